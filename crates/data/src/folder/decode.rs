//! One image file: its header (size and colour, read without decoding pixels, with limits that
//! refuse huge images before any big allocation) and its pixels, converted, resized and laid
//! out planar.

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageReader, Limits, Pixel};
use std::path::Path;

/// The largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 32768;
/// The most bytes one decoded image (in its own colour type) may take.
pub const MAX_IMAGE_BYTES: u64 = 512 << 20;
/// The longest image file read (JPEG decoders read the whole file into memory).
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// What a header tells about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Whether the colour type has colour (RGB or RGBA), not only grey.
    pub colour: bool,
}

/// The layout every image of the set is brought to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub rows: usize,
    /// Width in pixels.
    pub cols: usize,
    /// Whether images of another size are resized (else refused).
    pub resize: bool,
}

impl Target {
    /// Bytes of one image: channels x rows x cols.
    pub fn image_bytes(&self) -> usize {
        self.channels * self.rows * self.cols
    }
}

/// Decoding limits: images wider or taller than [`MAX_SIDE`] (when `sides` is set) or needing
/// more than [`MAX_IMAGE_BYTES`] are refused by the decoder itself.
fn limits(sides: bool) -> Limits {
    let mut limits = Limits::default();
    if sides {
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
    }
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    limits
}

/// Opens `path` as a decoder, the format guessed from the content (else the extension).
fn open(path: &Path, len: u64, limits: Limits) -> Result<impl ImageDecoder, String> {
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "the file has {len} bytes, over the {} MiB limit",
            MAX_FILE_BYTES >> 20
        ));
    }
    let mut reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("cannot read: {e}"))?;
    reader.limits(limits);
    reader.into_decoder().map_err(|e| e.to_string())
}

/// Refuses a decoder whose image is empty or too large, naming its size.
fn check_size(decoder: &impl ImageDecoder) -> Result<(u32, u32), String> {
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(format!("{height}x{width} pixels: the image is empty"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "{height}x{width} pixels (height x width), over the {MAX_SIDE}x{MAX_SIDE} limit"
        ));
    }
    if decoder.total_bytes() > MAX_IMAGE_BYTES {
        return Err(format!(
            "{height}x{width} pixels need {} MiB decoded, over the {} MiB limit",
            decoder.total_bytes() >> 20,
            MAX_IMAGE_BYTES >> 20
        ));
    }
    Ok((width, height))
}

/// Reads the header of the image at `path` (`len` bytes long) without decoding its pixels.
///
/// The side limits are checked here rather than by the decoder, so that the reason names the
/// size; only the header is read, which allocates little whatever it announces.
pub(crate) fn header(path: &Path, len: u64) -> Result<Header, String> {
    let decoder = open(path, len, limits(false))?;
    let (width, height) = check_size(&decoder)?;
    Ok(Header {
        height: height as usize,
        width: width as usize,
        colour: decoder.color_type().has_color(),
    })
}

/// Decodes the image at `path` into `out` (`target.image_bytes()` long): grey or RGB (alpha
/// dropped), resized to the target when allowed, planar (channel after channel).
pub(crate) fn pixels(path: &Path, len: u64, target: &Target, out: &mut [u8]) -> Result<(), String> {
    let decoder = open(path, len, limits(true))?;
    check_size(&decoder)?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if out.len() != target.image_bytes() {
        return Err(format!(
            "internal: slot of {} bytes for {} expected",
            out.len(),
            target.image_bytes()
        ));
    }
    match target.channels {
        1 => {
            let grey = fit(image.into_luma8(), target)?;
            out.copy_from_slice(grey.as_raw());
        }
        _ => {
            let rgb = fit(image.into_rgb8(), target)?;
            interleaved_to_planar(rgb.as_raw(), 3, out);
        }
    }
    Ok(())
}

/// Brings `image` to the target size: unchanged when it has it, resized (triangle filter) when
/// resizing is allowed, else an error naming both sizes.
fn fit<P>(
    image: ImageBuffer<P, Vec<P::Subpixel>>,
    target: &Target,
) -> Result<ImageBuffer<P, Vec<P::Subpixel>>, String>
where
    P: Pixel + 'static,
{
    let (width, height) = (image.width() as usize, image.height() as usize);
    if (height, width) == (target.rows, target.cols) {
        return Ok(image);
    }
    if !target.resize {
        return Err(format!(
            "{height}x{width} pixels, expected {}x{} (did the file change while loading?)",
            target.rows, target.cols
        ));
    }
    // Both sides are at most MAX_SIDE, checked with the options.
    let (cols, rows) = (target.cols as u32, target.rows as u32);
    Ok(imageops::resize(&image, cols, rows, FilterType::Triangle))
}

/// Copies `channels`-interleaved pixels (`rgbrgb...`) into `out` planar (`rr..gg..bb..`).
pub(crate) fn interleaved_to_planar(raw: &[u8], channels: usize, out: &mut [u8]) {
    let plane = out.len() / channels.max(1);
    if plane == 0 {
        return;
    }
    for (c, dst) in out.chunks_exact_mut(plane).enumerate() {
        for (d, px) in dst.iter_mut().zip(raw.chunks_exact(channels)) {
            *d = px[c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_layout_puts_each_channel_in_its_own_plane() {
        let raw = [1, 2, 3, 4, 5, 6];
        let mut out = [0; 6];
        interleaved_to_planar(&raw, 3, &mut out);
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn a_missing_file_is_a_reason_not_a_panic() {
        let reason = header(Path::new("/nonexistent/ae-data/x.png"), 10).unwrap_err();
        assert!(reason.contains("cannot read"), "{reason}");
    }
}
