//! From scanned files to one [`ImageSet`]: a parallel header pass, the common size and channel
//! count, a size check before allocating, a parallel pixel pass, and the removal of the slots of
//! images that failed.

use super::decode::{self, Header, Target};
use super::scan::ImageFile;
use super::{FolderOptions, Skipped};
use crate::dataset::ImageSet;
use crate::error::DataError;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most bytes a decoded set may take.
pub const MAX_SET_BYTES: u64 = 16 << 30;

/// The images that decoded, and the files that did not.
#[derive(Debug)]
pub(crate) struct Assembled {
    /// The decoded images, in the order of the files, with their labels (possibly none).
    pub images: ImageSet,
    /// The files skipped by either pass, in the order of the files (empty under `strict`).
    pub skipped: Vec<Skipped>,
}

/// Decodes `files` (with their `labels`) into one set; under `opts.strict` the first file that
/// fails, in order, is an error. `progress(done, total)` is called as each image finishes.
pub(crate) fn assemble(
    dir: &Path,
    files: &[ImageFile],
    labels: &[u8],
    opts: &FolderOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Assembled, DataError> {
    let headers: Vec<Result<Header, String>> = files
        .par_iter()
        .map(|f| decode::header(&f.path, f.len))
        .collect();
    let mut skipped = Vec::new();
    let mut good = Vec::with_capacity(files.len());
    for (index, (file, header)) in files.iter().zip(headers).enumerate() {
        match header {
            Ok(header) => good.push((index, header)),
            Err(reason) => refuse_or_skip(file, reason, opts.strict, &mut skipped)?,
        }
    }
    let Some(target) = target(dir, files, &good, opts)? else {
        let images = ImageSet {
            channels: opts.channels.unwrap_or(1),
            rows: 0,
            cols: 0,
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        return Ok(Assembled { images, skipped });
    };
    let bytes = target.image_bytes();
    check_total(dir, good.len(), &target)?;
    let mut pixels = vec![0u8; good.len() * bytes];
    let total = good.len();
    let done = AtomicUsize::new(0);
    let results: Vec<Result<(), String>> = pixels
        .par_chunks_mut(bytes)
        .zip(good.par_iter())
        .map(|(out, &(index, _))| {
            let file = &files[index];
            let result = decode::pixels(&file.path, file.len, &target, out);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            result
        })
        .collect();

    // Moves each decoded image down over the slots of the failed ones before it.
    let mut kept_labels = Vec::with_capacity(total);
    let mut kept = 0;
    for (slot, (&(index, _), result)) in good.iter().zip(results).enumerate() {
        match result {
            Ok(()) => {
                if kept != slot {
                    pixels.copy_within(slot * bytes..(slot + 1) * bytes, kept * bytes);
                }
                kept += 1;
                kept_labels.push(labels.get(index).copied().unwrap_or(0));
            }
            Err(reason) => refuse_or_skip(&files[index], reason, opts.strict, &mut skipped)?,
        }
    }
    if kept < total {
        pixels.truncate(kept * bytes);
        pixels.shrink_to_fit();
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let images = ImageSet {
        channels: target.channels,
        rows: target.rows,
        cols: target.cols,
        pixels,
        labels: kept_labels,
    };
    Ok(Assembled { images, skipped })
}

/// Under `strict`, the error for `file`; else records it as skipped.
fn refuse_or_skip(
    file: &ImageFile,
    reason: String,
    strict: bool,
    skipped: &mut Vec<Skipped>,
) -> Result<(), DataError> {
    if strict {
        return Err(DataError::Image {
            path: file.path.clone(),
            detail: reason,
        });
    }
    skipped.push(Skipped {
        path: file.path.clone(),
        reason,
    });
    Ok(())
}

/// The layout of the set: `None` when no header could be read.
fn target(
    dir: &Path,
    files: &[ImageFile],
    good: &[(usize, Header)],
    opts: &FolderOptions,
) -> Result<Option<Target>, DataError> {
    if good.is_empty() {
        return Ok(None);
    }
    let colour = good.iter().any(|(_, h)| h.colour);
    let channels = opts.channels.unwrap_or(if colour { 3 } else { 1 });
    let (rows, cols) = match opts.image_size {
        Some(size) => size,
        None => common_size(dir, files, good)?,
    };
    Ok(Some(Target {
        channels,
        rows,
        cols,
        resize: opts.image_size.is_some(),
    }))
}

/// The one (height, width) all images share, else an error listing the sizes found.
fn common_size(
    dir: &Path,
    files: &[ImageFile],
    good: &[(usize, Header)],
) -> Result<(usize, usize), DataError> {
    // (height, width) -> (count, first file)
    let mut sizes: BTreeMap<(usize, usize), (usize, &ImageFile)> = BTreeMap::new();
    for &(index, h) in good {
        sizes
            .entry((h.height, h.width))
            .or_insert((0, &files[index]))
            .0 += 1;
    }
    let mut sizes: Vec<_> = sizes.into_iter().collect();
    if let [(size, _)] = sizes.as_slice() {
        return Ok(*size);
    }
    sizes.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    const SHOWN: usize = 4;
    let mut list: Vec<String> = sizes
        .iter()
        .take(SHOWN)
        .map(|((h, w), (count, file))| {
            let noun = if *count == 1 { "image" } else { "images" };
            format!("{h}x{w}: {count} {noun}, e.g. {}", file.rel.display())
        })
        .collect();
    if sizes.len() > SHOWN {
        list.push(format!("and {} more sizes", sizes.len() - SHOWN));
    }
    Err(DataError::Folder {
        path: dir.to_path_buf(),
        detail: format!(
            "images have different sizes ({}); give --image-size HxW to resize them all",
            list.join("; ")
        ),
    })
}

/// Refuses a set whose decoded bytes would exceed [`MAX_SET_BYTES`], before allocating them.
fn check_total(dir: &Path, n: usize, target: &Target) -> Result<(), DataError> {
    let total = (n as u64)
        .checked_mul(target.channels as u64)
        .and_then(|b| b.checked_mul(target.rows as u64))
        .and_then(|b| b.checked_mul(target.cols as u64));
    match total {
        Some(bytes) if bytes <= MAX_SET_BYTES && usize::try_from(bytes).is_ok() => Ok(()),
        _ => Err(DataError::Folder {
            path: dir.to_path_buf(),
            detail: format!(
                "{n} images of {}x{}x{} bytes would take over {} GiB decoded; \
                 give --image-size HxW to make them smaller",
                target.channels,
                target.rows,
                target.cols,
                MAX_SET_BYTES >> 30
            ),
        }),
    }
}
