//! `ae compress`: is the code a better compressor than JPEG? Bytes per image of the code
//! (stored as f32 or f16) against JPEG at the same PSNR and at the same size, on the test set.

use super::RunArgs;
use super::session::{BATCH, Session};
use super::stats::{mean, psnr};
use crate::backend::read_f32;
use crate::picture::{Grid, interleave};
use crate::run_dir::write_atomic;
use ae_data::Split;
use anyhow::{Context, Result, bail};
use burn::module::Module;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageFormat};
use serde::Serialize;
use std::path::PathBuf;

/// `ae compress`.
#[derive(Debug, clap::Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Use the first N test images [default: all].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Examples drawn in the picture.
    #[arg(long, default_value_t = 10)]
    pub examples: usize,
    /// The PNG to write (compress.json goes beside it) [default: <run>/ae/compress.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One way of storing the images, averaged over the test set.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What it is.
    pub method: String,
    /// Mean bytes per image, whole file.
    pub bytes: f64,
    /// Mean bytes per image without what every image shares (JPEG's headers and tables).
    pub payload_bytes: f64,
    /// Mean PSNR in dB against the original 8-bit image.
    pub psnr_db: f64,
}

/// A JPEG of one image (grey or colour): its size, the size of its entropy-coded data, and its
/// decode (planar, as the image was given).
struct Jpeg {
    bytes: usize,
    payload: usize,
    pixels: Vec<u8>,
}

fn jpeg(pixels: &[u8], shape: [usize; 3], quality: u8) -> Result<Jpeg> {
    let [c, h, w] = shape;
    let (colour, plane) = (c == 3, h * w);
    let mut buf = Vec::new();
    let (interleaved, kind) = if colour {
        let rgb: Vec<u8> = (0..plane)
            .flat_map(|p| (0..3).map(move |ch| pixels[ch * plane + p]))
            .collect();
        (rgb, ExtendedColorType::Rgb8)
    } else {
        (pixels.to_vec(), ExtendedColorType::L8)
    };
    JpegEncoder::new_with_quality(&mut buf, quality)
        .encode(&interleaved, w as u32, h as u32, kind)
        .context("JPEG encoding failed")?;
    let decoded = image::load_from_memory_with_format(&buf, ImageFormat::Jpeg)
        .context("JPEG decoding failed")?;
    let pixels = if colour {
        let rgb = decoded.to_rgb8().into_raw();
        (0..3)
            .flat_map(|ch| rgb.iter().skip(ch).step_by(3).copied())
            .collect()
    } else {
        decoded.to_luma8().into_raw()
    };
    Ok(Jpeg {
        bytes: buf.len(),
        payload: payload_len(&buf),
        pixels,
    })
}

/// Bytes of entropy-coded data: the file minus its headers up to the end of the start-of-scan
/// segment and the 2-byte end marker.
fn payload_len(jpeg: &[u8]) -> usize {
    let mut i = 2; // after SOI
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            break;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xDA {
            return jpeg.len().saturating_sub(i + 2 + len + 2);
        }
        i += 2 + len;
    }
    jpeg.len()
}

fn to_u8(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

fn to_f32(values: &[u8]) -> Vec<f32> {
    values.iter().map(|&v| f32::from(v) / 255.0).collect()
}

/// The lowest quality in 1..=100 for which `ok` holds, assuming it holds from some quality on
/// (`None`: not even at 100).
fn lowest_quality(mut ok: impl FnMut(u8) -> Result<bool>) -> Result<Option<u8>> {
    if !ok(100)? {
        return Ok(None);
    }
    let (mut lo, mut hi) = (1u8, 100u8);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(mid)? { hi = mid } else { lo = mid + 1 }
    }
    Ok(Some(lo))
}

/// Per-image figures, summed.
#[derive(Default)]
struct Sums {
    f32_psnr: Vec<f64>,
    f16_psnr: Vec<f64>,
    same_psnr: Vec<(usize, usize, f64, f64)>,
    same_size: Vec<(usize, usize, f64, f64)>,
    unreached: usize,
    oversize: usize,
}

/// Measures and prints the comparison, and draws examples.
pub fn compress(a: &CompressArgs) -> Result<()> {
    if a.examples == 0 {
        bail!("--examples 0: nothing to draw");
    }
    let s = Session::open(&a.run)?;
    s.need_images("compress")?;
    let set = s.load(Split::Test, a.limit)?;
    let k = s.cfg.network.code_dim();
    let shape = s.cfg.sample_shape();
    let [c, h, w] = shape;
    let (f32_bytes, f16_bytes) = (4 * k, 2 * k);
    let mut sums = Sums::default();
    let examples = a.examples.min(set.len());
    let mut shown: [Vec<Vec<f32>>; 4] = Default::default();
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut original = Vec::new();
    for chunk in indices.chunks(BATCH) {
        let codes = read_f32(
            s.model
                .encode(crate::input::batch::samples_tensor(&set, chunk, &s.device)),
            "codes",
        )?;
        let halves: Vec<f32> = codes
            .iter()
            .map(|&v| half::f16::from_f32(v).to_f32())
            .collect();
        let full = s.decode(&codes)?;
        let half = s.decode(&halves)?;
        for (row, &i) in chunk.iter().enumerate() {
            original.clear();
            set.push_sample(i, &mut original);
            let orig = to_u8(&original);
            let reference = to_f32(&orig);
            let d = orig.len();
            let ae32 = to_f32(&to_u8(&full[row * d..][..d]));
            let ae16 = to_f32(&to_u8(&half[row * d..][..d]));
            let target = psnr(&reference, &ae16);
            sums.f32_psnr.push(psnr(&reference, &ae32));
            sums.f16_psnr.push(target);
            let score = |j: &Jpeg| psnr(&reference, &to_f32(&j.pixels));
            let q = lowest_quality(|q| Ok(score(&jpeg(&orig, shape, q)?) >= target))?;
            sums.unreached += usize::from(q.is_none());
            let matched = jpeg(&orig, shape, q.unwrap_or(100))?;
            sums.same_psnr.push((
                matched.bytes,
                matched.payload,
                score(&matched),
                f64::from(q.unwrap_or(100)),
            ));
            // The highest quality whose data fits in the f16 code's bytes.
            let over = lowest_quality(|q| Ok(jpeg(&orig, shape, q)?.payload > f16_bytes))?;
            let fit_q = match over {
                Some(1) => {
                    sums.oversize += 1;
                    1
                }
                Some(q) => q - 1,
                None => 100,
            };
            let sized = jpeg(&orig, shape, fit_q)?;
            sums.same_size
                .push((sized.bytes, sized.payload, score(&sized), f64::from(fit_q)));
            if i < examples {
                shown[0].push(reference);
                shown[1].push(ae16);
                shown[2].push(to_f32(&matched.pixels));
                shown[3].push(to_f32(&sized.pixels));
            }
        }
    }
    let n = set.len();
    let col = |v: &[(usize, usize, f64, f64)], f: fn(&(usize, usize, f64, f64)) -> f64| {
        mean(&v.iter().map(f).collect::<Vec<_>>())
    };
    let rows = vec![
        Row {
            method: format!("{} code, f32 ({k} numbers)", s.cfg.model),
            bytes: f32_bytes as f64,
            payload_bytes: f32_bytes as f64,
            psnr_db: mean(&sums.f32_psnr),
        },
        Row {
            method: format!("{} code, f16", s.cfg.model),
            bytes: f16_bytes as f64,
            payload_bytes: f16_bytes as f64,
            psnr_db: mean(&sums.f16_psnr),
        },
        Row {
            method: format!(
                "JPEG at the f16 code's PSNR (mean quality {:.0})",
                col(&sums.same_psnr, |r| r.3)
            ),
            bytes: col(&sums.same_psnr, |r| r.0 as f64),
            payload_bytes: col(&sums.same_psnr, |r| r.1 as f64),
            psnr_db: col(&sums.same_psnr, |r| r.2),
        },
        Row {
            method: format!(
                "JPEG with data <= the f16 code's {f16_bytes} bytes (mean quality {:.0})",
                col(&sums.same_size, |r| r.3)
            ),
            bytes: col(&sums.same_size, |r| r.0 as f64),
            payload_bytes: col(&sums.same_size, |r| r.1 as f64),
            psnr_db: col(&sums.same_size, |r| r.2),
        },
    ];
    println!(
        "{n} test images of {}, 8-bit, {h}x{w}{} ({} bytes raw):",
        s.cfg.dataset,
        if c == 3 { " RGB" } else { "" },
        c * h * w
    );
    println!("| method | bytes/image | without shared headers | PSNR dB |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.2} |",
            r.method, r.bytes, r.payload_bytes, r.psnr_db
        );
    }
    let decoder_bytes = 4 * s.model.num_params(); // encoder and decoder, f32
    println!(
        "The code also needs the model: the encoder where images are compressed, the decoder \
         where they are read ({} bytes of weights for both, shared once, as JPEG's tables could \
         be). JPEG could not reach the code's PSNR for {} images, and its data was bigger than \
         the code even at quality 1 for {} images.",
        decoder_bytes, sums.unreached, sums.oversize
    );
    let [orig, ae, same_psnr, same_size] = shown;
    let grid = |tiles| Grid {
        tile: shape,
        cols: examples,
        tiles,
        scale: super::figures::IMAGE_SCALE,
    };
    let path = s.output(a.out.as_deref(), "compress.png")?;
    interleave(vec![grid(orig), grid(ae), grid(same_psnr), grid(same_size)]).save_png(&path)?;
    let json = path.with_extension("json");
    let report = serde_json::json!({
        "model": s.cfg.model.as_str(),
        "images": n,
        "rows": rows,
        "model_bytes": decoder_bytes,
        "jpeg_below_code_psnr": sums.unreached,
        "jpeg_larger_than_code_at_quality_1": sums.oversize,
    });
    write_atomic(&json, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!(
        "wrote {} (rows: original, f16 code, JPEG at its PSNR, JPEG at its size) and {}",
        path.display(),
        json.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_sizes_and_payloads() {
        let pixels: Vec<u8> = (0..28 * 28).map(|i| ((i * 7) % 256) as u8).collect();
        let low = jpeg(&pixels, [1, 28, 28], 5).unwrap();
        let high = jpeg(&pixels, [1, 28, 28], 95).unwrap();
        assert!(low.payload < high.payload && low.bytes < high.bytes);
        assert!(
            low.payload < low.bytes && low.bytes - low.payload > 100,
            "headers counted"
        );
        assert_eq!(high.pixels.len(), 28 * 28);
        let reference = to_f32(&pixels);
        assert!(psnr(&reference, &to_f32(&high.pixels)) > psnr(&reference, &to_f32(&low.pixels)));
    }

    #[test]
    fn colour_jpeg_keeps_the_planes_apart() {
        // A red image (planes: 255, 0, 0) comes back red, planar, at high quality.
        let (h, w) = (16, 24);
        let mut pixels = vec![255u8; h * w];
        pixels.extend(vec![0u8; 2 * h * w]);
        let j = jpeg(&pixels, [3, h, w], 95).unwrap();
        assert_eq!(j.pixels.len(), 3 * h * w);
        let mean = |p: &[u8]| p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
        let plane = |c: usize| &j.pixels[c * h * w..(c + 1) * h * w];
        assert!(mean(plane(0)) > 240.0, "red {}", mean(plane(0)));
        assert!(mean(plane(1)) < 15.0 && mean(plane(2)) < 15.0);
    }

    #[test]
    fn lowest_quality_searches() {
        assert_eq!(lowest_quality(|q| Ok(q >= 37)).unwrap(), Some(37));
        assert_eq!(lowest_quality(|_| Ok(true)).unwrap(), Some(1));
        assert_eq!(lowest_quality(|_| Ok(false)).unwrap(), None);
    }
}
