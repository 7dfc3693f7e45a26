//! The decoded-set cache: written then used, invalidated by a changed file or other options,
//! ignored when corrupt, and never fatal when it cannot be written.

use crate::common::{TempDir, bytes, grey, load_with};
use ae_data::FolderOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A labelled folder with one corrupt file, and options caching into `cache`.
fn folder_and_options(dir: &TempDir, cache: &Path) -> FolderOptions {
    grey(&dir.join("a/1.png"), 5, 7, |x, y| (x + 10 * y) as u8);
    grey(&dir.join("a/2.png"), 5, 7, |_, _| 3);
    grey(&dir.join("b/3.png"), 5, 7, |x, _| 200 - x as u8);
    bytes(&dir.join("b/bad.png"), b"corrupt");
    FolderOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..FolderOptions::default()
    }
}

/// The cache files in `cache`.
fn cache_files(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aeimg"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_cache_is_written_then_used() {
    let (dir, cache) = (TempDir::new("cache-use"), TempDir::new("cache-use-store"));
    let opts = folder_and_options(&dir, &cache.join("nested/store"));
    let first = load_with(&dir.0, &opts).unwrap();
    assert!(!first.from_cache);
    assert_eq!(cache_files(&cache.join("nested/store")).len(), 1);
    let second = load_with(&dir.0, &opts).unwrap();
    assert!(second.from_cache);
    assert_eq!(second.images, first.images);
    assert_eq!(second.classes, ["a", "b"]);
    assert_eq!(second.skipped, first.skipped);
    assert_eq!(second.skipped.len(), 1);
}

#[test]
fn a_changed_file_or_other_options_miss_the_cache() {
    let (dir, cache) = (
        TempDir::new("cache-change"),
        TempDir::new("cache-change-store"),
    );
    let opts = folder_and_options(&dir, &cache.0);
    let before = load_with(&dir.0, &opts).unwrap();
    let path = dir.join("a/2.png");
    grey(&path, 5, 7, |_, _| 4);
    let later = SystemTime::now() + Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let after = load_with(&dir.0, &opts).unwrap();
    assert!(!after.from_cache);
    assert_ne!(after.images, before.images);
    assert!(after.images.image(1).iter().all(|&p| p == 4));
    assert!(load_with(&dir.0, &opts).unwrap().from_cache);

    let resized = FolderOptions {
        image_size: Some((3, 3)),
        ..opts.clone()
    };
    let set = load_with(&dir.0, &resized).unwrap();
    assert!(!set.from_cache);
    assert_eq!((set.images.rows, set.images.cols), (3, 3));
    assert!(load_with(&dir.0, &resized).unwrap().from_cache);
}

#[test]
fn a_corrupt_or_short_cache_is_decoded_again_and_rewritten() {
    let (dir, cache) = (
        TempDir::new("cache-corrupt"),
        TempDir::new("cache-corrupt-store"),
    );
    let opts = folder_and_options(&dir, &cache.0);
    let original = load_with(&dir.0, &opts).unwrap();
    let file = cache_files(&cache.0).remove(0);
    let content = std::fs::read(&file).unwrap();

    let mut flipped = content.clone();
    let last_pixel = flipped.len() - 33;
    flipped[last_pixel] ^= 0xff;
    let damaged: [&[u8]; 4] = [&content[..content.len() / 2], &flipped, b"", b"AEIMG junk"];
    for bytes in damaged {
        std::fs::write(&file, bytes).unwrap();
        let set = load_with(&dir.0, &opts).unwrap();
        assert!(!set.from_cache);
        assert_eq!(set.images, original.images);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            content,
            "the cache is rewritten"
        );
        assert!(load_with(&dir.0, &opts).unwrap().from_cache);
    }
}

#[test]
fn a_cache_that_cannot_be_written_is_not_an_error() {
    let (dir, blocker) = (
        TempDir::new("cache-blocked"),
        TempDir::new("cache-blocked-file"),
    );
    let file = blocker.join("a-file");
    bytes(&file, b"a file where the cache folder should be");
    let opts = folder_and_options(&dir, &file.join("cache"));
    let set = load_with(&dir.0, &opts).unwrap();
    assert!(!set.from_cache);
    assert_eq!(set.images.len(), 3);
}
