//! Helpers: temporary folders removed on drop, images written from a pixel function, loading
//! with default options.

use ae_data::{DataError, FolderOptions, FolderSet, load_folder};
use image::{GrayImage, Luma, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A folder under the system's temporary folder, removed (with its content) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty folder whose name contains `name`, the process id and a counter.
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ae-data-folder-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `rel` below the folder.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates the parent folders of `path`.
fn parents(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
}

/// Writes a grey image `height` x `width` whose pixel (x, y) is `f(x, y)`; the format follows
/// the extension.
pub fn grey(path: &Path, height: u32, width: u32, f: impl Fn(u32, u32) -> u8) {
    parents(path);
    GrayImage::from_fn(width, height, |x, y| Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

/// Writes an RGB image `height` x `width` whose pixel (x, y) is `f(x, y)`.
pub fn rgb(path: &Path, height: u32, width: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    parents(path);
    RgbImage::from_fn(width, height, |x, y| Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

/// Writes `bytes` to `path`.
pub fn bytes(path: &Path, bytes: &[u8]) {
    parents(path);
    std::fs::write(path, bytes).unwrap();
}

/// Loads `dir` with `opts`, ignoring progress.
pub fn load_with(dir: &Path, opts: &FolderOptions) -> Result<FolderSet, DataError> {
    load_folder(dir, opts, &|_, _| {})
}

/// Loads `dir` with the default options.
pub fn load(dir: &Path) -> Result<FolderSet, DataError> {
    load_with(dir, &FolderOptions::default())
}

/// Options with only `strict` set.
pub fn strict() -> FolderOptions {
    FolderOptions {
        strict: true,
        ..FolderOptions::default()
    }
}
