//! A data set from a folder of PNG and JPEG images: scanned recursively, labelled by first-level
//! sub-folder (the ImageFolder convention) or unlabelled, decoded in parallel into one
//! [`ImageSet`], optionally cached, and split into training and test parts.
//!
//! `scan` walks the folder, `decode` reads one image, `assemble` builds the set, `cache` keeps
//! decoded sets, `split` makes training and test parts.

mod assemble;
mod cache;
mod decode;
mod scan;
mod split;

pub use assemble::MAX_SET_BYTES;
pub use decode::{MAX_FILE_BYTES, MAX_IMAGE_BYTES, MAX_SIDE};
pub use scan::{IMAGE_EXTENSIONS, is_image_name};
pub use split::{DEFAULT_TEST_FRACTION, hold_out, split_folders};

use crate::dataset::ImageSet;
use crate::error::DataError;
use std::fs;
use std::path::{Path, PathBuf};

/// The most classes (first-level sub-folders) a labelled folder may have: labels are one byte.
pub const MAX_CLASSES: usize = 256;

/// Options of a folder data set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// Resize every image to (height, width); None: keep the size, which all images must share.
    pub image_size: Option<(usize, usize)>,
    /// 1 (grey) or 3 (RGB); None: 3 when any image has colour, else 1.
    pub channels: Option<usize>,
    /// Refuse the whole set on the first image that cannot be read or decoded (else skip it).
    pub strict: bool,
    /// Folder for the decoded cache (None: no cache).
    pub cache_dir: Option<PathBuf>,
}

/// A decoded folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSet {
    /// The images; labels are the class index (by first-level sub-folder), or all 0 when the
    /// folder is unlabelled.
    pub images: ImageSet,
    /// Class names: the sorted first-level sub-folder names; empty when unlabelled.
    pub classes: Vec<String>,
    /// Files that could not be read or decoded, with the reason (empty under `strict`).
    pub skipped: Vec<Skipped>,
    /// Entries ignored: files that are not PNG or JPEG by name, and hidden files and folders.
    pub ignored: usize,
    /// Whether the images came from the cache rather than from decoding.
    pub from_cache: bool,
}

/// A file (or folder, or symlink) left out of a folder set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path, as found below the folder.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: String,
}

/// Loads the images below `dir` as one set (see the module documentation for the rules).
///
/// `progress(done, total)` is called from worker threads as each image is decoded.
pub fn load_folder(
    dir: &Path,
    opts: &FolderOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FolderSet, DataError> {
    let folder_error = |detail: String| DataError::Folder {
        path: dir.to_path_buf(),
        detail,
    };
    check_options(opts).map_err(folder_error)?;
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(folder_error("not a folder".into())),
        Err(e) => return Err(folder_error(format!("cannot open the folder: {e}"))),
    }
    let scan = scan::scan(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if let (true, Some(first)) = (opts.strict, scan.unreadable.first()) {
        return Err(DataError::Folder {
            path: first.path.clone(),
            detail: first.reason.clone(),
        });
    }
    if scan.files.is_empty() && scan.unreadable.is_empty() {
        return Err(folder_error(
            "no PNG or JPEG images found (looked recursively)".into(),
        ));
    }
    let (classes, labels) = classify(&scan.files);
    if classes.len() > MAX_CLASSES {
        return Err(folder_error(format!(
            "{} class folders, but at most {MAX_CLASSES} classes are supported (labels are one byte)",
            classes.len()
        )));
    }
    let cache_file = opts
        .cache_dir
        .as_deref()
        .and_then(|c| cache::file_for(c, dir, &scan, opts).ok());
    if let Some(cached) = cache_file
        .as_deref()
        .and_then(|f| cache::read(f, dir, &classes, opts))
    {
        return Ok(FolderSet {
            images: cached.images,
            classes: cached.classes,
            skipped: cached.skipped,
            ignored: scan.ignored,
            from_cache: true,
        });
    }

    let built = assemble::assemble(dir, &scan.files, &labels, opts, progress)?;
    let mut skipped = scan.unreadable;
    skipped.extend(built.skipped);
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    if built.images.is_empty() {
        let first = skipped
            .first()
            .map(|s| format!(" (first: {}: {})", s.path.display(), s.reason))
            .unwrap_or_default();
        return Err(folder_error(format!(
            "none of the {} images could be read or decoded{first}",
            skipped.len()
        )));
    }
    let cached = cache::Cached {
        images: built.images,
        classes,
        skipped,
    };
    if let Some(file) = &cache_file {
        // A cache that cannot be written costs the next run a decode, nothing more.
        let _ = cache::write(file, dir, &cached);
    }
    Ok(FolderSet {
        images: cached.images,
        classes: cached.classes,
        skipped: cached.skipped,
        ignored: scan.ignored,
        from_cache: false,
    })
}

/// Refuses options no image set can have.
fn check_options(opts: &FolderOptions) -> Result<(), String> {
    if let Some(c) = opts.channels.filter(|&c| c != 1 && c != 3) {
        return Err(format!(
            "{c} channels asked for; 1 (grey) or 3 (RGB) are supported"
        ));
    }
    let side = 1..=MAX_SIDE as usize;
    if let Some((h, w)) = opts
        .image_size
        .filter(|(h, w)| !side.contains(h) || !side.contains(w))
    {
        return Err(format!(
            "image size {h}x{w} asked for; each side must be 1 to {MAX_SIDE} pixels"
        ));
    }
    Ok(())
}

/// Class names and one label per file: by first-level sub-folder when no image lies directly in
/// the folder, else no classes and all labels 0. `files` are sorted, so the names come sorted.
fn classify(files: &[scan::ImageFile]) -> (Vec<String>, Vec<u8>) {
    let first = |f: &scan::ImageFile| {
        let mut parts = f.rel.components();
        let top = parts.next()?;
        parts.next().map(|_| top.as_os_str().to_owned())
    };
    let tops: Option<Vec<_>> = files.iter().map(first).collect();
    let Some(tops) = tops.filter(|t| !t.is_empty()) else {
        return (Vec::new(), vec![0; files.len()]);
    };
    let mut names = Vec::new();
    let mut labels = Vec::with_capacity(tops.len());
    for top in tops {
        if names.last() != Some(&top) {
            names.push(top);
        }
        // More than MAX_CLASSES names is refused by the caller.
        labels.push((names.len() - 1).min(255) as u8);
    }
    let classes = names
        .iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    (classes, labels)
}
