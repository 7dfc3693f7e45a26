//! Bad input: missing or empty folders, corrupt and truncated files, a header announcing a huge
//! image, every image failing, impossible options.

use crate::LARGEST_ALLOCATION;
use crate::common::{TempDir, bytes, grey, load, load_with, strict};
use ae_data::{DataError, FolderOptions};
use flate2::Crc;
use std::io::Write;
use std::sync::atomic::Ordering;

#[test]
fn a_missing_folder_or_a_file_is_refused() {
    let dir = TempDir::new("missing");
    let message = load(&dir.join("nope")).unwrap_err().to_string();
    assert!(
        message.contains("nope") && message.contains("cannot open"),
        "{message}"
    );
    bytes(&dir.join("file.png"), b"x");
    let message = load(&dir.join("file.png")).unwrap_err().to_string();
    assert!(message.contains("not a folder"), "{message}");
}

#[test]
fn a_folder_without_images_is_refused() {
    let dir = TempDir::new("empty");
    let message = load(&dir.0).unwrap_err().to_string();
    assert!(
        message.contains("no PNG or JPEG images found (looked recursively)"),
        "{message}"
    );
    bytes(&dir.join("sub/notes.txt"), b"text");
    grey(&dir.join(".hidden/a.png"), 1, 1, |_, _| 0);
    assert!(
        load(&dir.0)
            .unwrap_err()
            .to_string()
            .contains("no PNG or JPEG")
    );
}

/// A valid PNG of noise, so that its compressed data is long.
fn noisy_png() -> Vec<u8> {
    let image = image::GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([(x * 7919 + y * 104729) as u8 ^ (x * y) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn corrupt_and_truncated_files_are_skipped_with_a_reason() {
    let dir = TempDir::new("corrupt");
    bytes(&dir.join("bad.png"), b"this is not a PNG at all");
    grey(&dir.join("good.png"), 64, 64, |_, _| 7);
    let png = noisy_png();
    bytes(&dir.join("truncated.png"), &png[..png.len() * 3 / 5]);
    let set = load(&dir.0).unwrap();
    assert_eq!(set.images.len(), 1);
    assert!(set.images.pixels.iter().all(|&p| p == 7));
    let paths: Vec<_> = set.skipped.iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, [dir.join("bad.png"), dir.join("truncated.png")]);
    assert!(set.skipped.iter().all(|s| !s.reason.is_empty()));
}

#[test]
fn corrupt_and_truncated_files_are_errors_under_strict() {
    let dir = TempDir::new("corrupt-strict");
    grey(&dir.join("good.png"), 64, 64, |_, _| 7);
    let png = noisy_png();
    bytes(&dir.join("truncated.png"), &png[..png.len() * 3 / 5]);
    match load_with(&dir.0, &strict()) {
        Err(DataError::Image { path, detail }) => {
            assert_eq!(path, dir.join("truncated.png"));
            assert!(!detail.is_empty());
        }
        other => panic!("expected an image error, got {other:?}"),
    }
    bytes(&dir.join("bad.png"), b"this is not a PNG at all");
    let message = load_with(&dir.0, &strict()).unwrap_err().to_string();
    assert!(
        message.contains("bad.png") && message.contains("cannot decode"),
        "{message}"
    );
}

/// Appends a PNG chunk with its CRC.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend(crc.sum().to_be_bytes());
}

/// A PNG whose header announces `side` x `side` RGB pixels, with a tiny image data chunk.
fn huge_png(side: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(side.to_be_bytes());
    ihdr.extend(side.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&[0; 64]).unwrap();
    chunk(&mut png, b"IDAT", &z.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_header_announcing_a_huge_image_is_refused_without_allocating_it() {
    let dir = TempDir::new("huge");
    grey(&dir.join("a.png"), 4, 4, |_, _| 1);
    bytes(&dir.join("huge.png"), &huge_png(100_000));
    let set = load(&dir.0).unwrap();
    assert_eq!(set.images.len(), 1);
    assert_eq!(set.skipped.len(), 1);
    assert!(
        set.skipped[0].reason.contains("100000x100000"),
        "{}",
        set.skipped[0].reason
    );
    match load_with(&dir.0, &strict()) {
        Err(DataError::Image { path, detail }) => {
            assert_eq!(path, dir.join("huge.png"));
            assert!(detail.contains("100000x100000"), "{detail}");
        }
        other => panic!("expected an image error, got {other:?}"),
    }
    let largest = LARGEST_ALLOCATION.load(Ordering::Relaxed);
    assert!(largest < 1 << 30, "an allocation of {largest} bytes");
}

#[test]
fn every_image_failing_is_an_error() {
    let dir = TempDir::new("all-bad");
    bytes(&dir.join("a.png"), b"junk");
    bytes(&dir.join("b.jpg"), b"more junk");
    let message = load(&dir.0).unwrap_err().to_string();
    assert!(message.contains("none of the 2 images"), "{message}");
    assert!(message.contains("a.png"), "{message}");
}

#[test]
fn impossible_options_are_refused() {
    let dir = TempDir::new("options");
    grey(&dir.join("a.png"), 2, 2, |_, _| 0);
    let two_channels = FolderOptions {
        channels: Some(2),
        ..FolderOptions::default()
    };
    assert!(
        load_with(&dir.0, &two_channels)
            .unwrap_err()
            .to_string()
            .contains("2 channels")
    );
    let empty_size = FolderOptions {
        image_size: Some((0, 5)),
        ..FolderOptions::default()
    };
    assert!(
        load_with(&dir.0, &empty_size)
            .unwrap_err()
            .to_string()
            .contains("0x5")
    );
}
