//! Walking a folder of images: which files are images, in which order, under which class, and
//! which entries could not be read (dangling symlinks, unreadable folders).

use super::Skipped;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The file extensions (compared in lower case) of the images a folder may hold.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// One image file found by the walk.
#[derive(Debug, Clone)]
pub(crate) struct ImageFile {
    /// The path to open (`dir` joined with `rel`).
    pub path: PathBuf,
    /// The path relative to the scanned folder; the sort key.
    pub rel: PathBuf,
    /// File length in bytes (of the target, for a symlink).
    pub len: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 where the system has none).
    pub mtime_ns: u128,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The image files, sorted by relative path.
    pub files: Vec<ImageFile>,
    /// Entries that could not be read, with the reason, sorted by path.
    pub unreadable: Vec<Skipped>,
    /// Files that are not images (or are hidden), ignored.
    pub ignored: usize,
    /// Folders not entered because they were already walked (symlink loops and duplicates).
    pub revisits: usize,
}

/// Whether `path`'s extension names a PNG or JPEG image.
pub fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Walks `dir` recursively, following symlinks but entering each real folder once.
///
/// Fails only when `dir` itself cannot be read; anything below it that cannot be read is listed
/// in [`Scan::unreadable`].
pub(crate) fn scan(dir: &Path) -> io::Result<Scan> {
    let root = fs::canonicalize(dir)?;
    let mut walk = Walk {
        root: dir.to_path_buf(),
        visited: HashSet::from([root]),
        scan: Scan::default(),
    };
    walk.entries(read_sorted(dir)?);
    let mut scan = walk.scan;
    scan.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    scan.unreadable.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

/// The walk's state: the folders already entered (canonical paths) and what was found.
struct Walk {
    root: PathBuf,
    visited: HashSet<PathBuf>,
    scan: Scan,
}

impl Walk {
    /// Visits the entries of one folder.
    fn entries(&mut self, entries: Vec<PathBuf>) {
        for path in entries {
            let hidden = path
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
            if hidden {
                self.scan.ignored += 1;
                continue;
            }
            // Follows symlinks: a dangling one fails here and counts as unreadable.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => self.folder(&path),
                Ok(meta) if meta.is_file() && is_image_name(&path) => self.file(path, &meta),
                Ok(_) => self.scan.ignored += 1,
                Err(e) => self.unreadable(path, &e),
            }
        }
    }

    /// Enters a sub-folder unless its real path was entered before.
    fn folder(&mut self, path: &Path) {
        let real = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) => return self.unreadable(path.to_path_buf(), &e),
        };
        if !self.visited.insert(real) {
            self.scan.revisits += 1;
            return;
        }
        match read_sorted(path) {
            Ok(entries) => self.entries(entries),
            Err(e) => self.unreadable(path.to_path_buf(), &e),
        }
    }

    /// Records an image file.
    fn file(&mut self, path: PathBuf, meta: &fs::Metadata) {
        let rel = path.strip_prefix(&self.root).unwrap_or(&path).to_path_buf();
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        self.scan.files.push(ImageFile {
            path,
            rel,
            len: meta.len(),
            mtime_ns,
        });
    }

    /// Records an entry that could not be read.
    fn unreadable(&mut self, path: PathBuf, error: &io::Error) {
        let reason = if fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
            format!("cannot follow symlink: {error}")
        } else {
            format!("cannot read: {error}")
        };
        self.scan.unreadable.push(Skipped { path, reason });
    }
}

/// The entries of `dir`, sorted by name.
fn read_sorted(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    paths.sort();
    Ok(paths)
}
