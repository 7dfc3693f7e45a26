//! Pixel values: RGB planar order, grey, JPEG, odd sizes, resizing, mixed sizes, channel choice.

use crate::common::{TempDir, grey, load, load_with, rgb};
use ae_data::FolderOptions;

/// The test colour of pixel (x, y) of image `i`.
fn colour(i: u32, x: u32, y: u32) -> [u8; 3] {
    [(x * 5) as u8, (y * 8) as u8, (x + y + 40 * i) as u8]
}

#[test]
fn rgb_png_pixels_come_back_exactly_in_planar_order() {
    let dir = TempDir::new("rgb-png");
    for i in 0..2 {
        rgb(&dir.join(&format!("{i}.png")), 30, 45, |x, y| {
            colour(i, x, y)
        });
    }
    let set = load(&dir.0).unwrap();
    let images = &set.images;
    assert_eq!(
        (images.len(), images.channels, images.rows, images.cols),
        (2, 3, 30, 45)
    );
    assert!(set.classes.is_empty() && set.skipped.is_empty() && !set.from_cache);
    for i in 0..2 {
        let image = images.image(i);
        for y in 0..30 {
            for x in 0..45 {
                for c in 0..3 {
                    let at = c * 30 * 45 + y * 45 + x;
                    assert_eq!(image[at], colour(i as u32, x as u32, y as u32)[c]);
                }
            }
        }
    }
}

#[test]
fn grey_png_is_one_channel_and_exact() {
    let dir = TempDir::new("grey-png");
    grey(&dir.join("a.png"), 30, 45, |x, y| (x * 3 + y) as u8);
    let set = load(&dir.0).unwrap();
    let images = &set.images;
    assert_eq!((images.channels, images.rows, images.cols), (1, 30, 45));
    let expected: Vec<u8> = (0..30)
        .flat_map(|y| (0..45).map(move |x| (x * 3 + y) as u8))
        .collect();
    assert_eq!(images.pixels, expected);
}

/// The mean absolute difference of two byte slices.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&p, &q)| u64::from(p.abs_diff(q)))
        .sum();
    sum as f64 / a.len() as f64
}

#[test]
fn jpeg_grey_and_rgb_decode_approximately() {
    let dir = TempDir::new("jpeg");
    let smooth = |x: u32, y: u32| [(x * 4) as u8, (y * 6) as u8, 128];
    rgb(&dir.join("colour/a.jpg"), 32, 48, smooth);
    grey(&dir.join("grey/b.JPEG"), 32, 48, |x, y| {
        (x * 2 + y * 3) as u8
    });
    let set = load(&dir.0).unwrap();
    assert_eq!(set.classes, ["colour", "grey"]);
    assert_eq!(set.images.labels, [0, 1]);
    assert_eq!(set.images.channels, 3);
    let planar: Vec<u8> = (0..3)
        .flat_map(|c| (0..32).flat_map(move |y| (0..48).map(move |x| smooth(x, y)[c])))
        .collect();
    let error = mean_abs_diff(set.images.image(0), &planar);
    assert!(error < 6.0, "colour JPEG off by {error} on average");
    // The grey image is replicated into the three planes.
    let grey_plane: Vec<u8> = (0..32)
        .flat_map(|y| (0..48).map(move |x| (x * 2 + y * 3) as u8))
        .collect();
    for plane in set.images.image(1).chunks(32 * 48) {
        let error = mean_abs_diff(plane, &grey_plane);
        assert!(error < 6.0, "grey JPEG off by {error} on average");
    }
}

#[test]
fn image_size_resizes_every_image_even_of_mixed_sizes() {
    let dir = TempDir::new("resize");
    rgb(&dir.join("a.png"), 30, 45, |_, _| [200, 100, 50]);
    rgb(&dir.join("b.png"), 20, 20, |_, _| [10, 20, 30]);
    let opts = FolderOptions {
        image_size: Some((16, 24)),
        ..FolderOptions::default()
    };
    let set = load_with(&dir.0, &opts).unwrap();
    let images = &set.images;
    assert_eq!(
        (images.len(), images.channels, images.rows, images.cols),
        (2, 3, 16, 24)
    );
    // A flat colour stays that colour through the triangle filter (up to rounding).
    let plane = 16 * 24;
    for (i, colour) in [[200u8, 100, 50], [10, 20, 30]].iter().enumerate() {
        for (c, &v) in colour.iter().enumerate() {
            let p = &images.image(i)[c * plane..(c + 1) * plane];
            assert!(
                p.iter().all(|&q| q.abs_diff(v) <= 1),
                "image {i} channel {c}"
            );
        }
    }
}

#[test]
fn mixed_sizes_without_image_size_are_refused_naming_the_flag() {
    let dir = TempDir::new("mixed");
    for i in 0..3 {
        grey(&dir.join(&format!("a/{i}.png")), 28, 28, |_, _| 0);
    }
    grey(&dir.join("b/7.png"), 30, 45, |_, _| 0);
    let message = load(&dir.0).unwrap_err().to_string();
    for part in [
        "different sizes",
        "28x28: 3 images, e.g. a/0.png",
        "30x45: 1 image, e.g. b/7.png",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert!(message.contains("--image-size HxW"), "{message}");
}

#[test]
fn one_colour_image_makes_the_set_rgb() {
    let dir = TempDir::new("one-colour");
    grey(&dir.join("a.png"), 4, 5, |x, _| (x * 10) as u8);
    rgb(&dir.join("b.png"), 4, 5, |_, _| [1, 2, 3]);
    let set = load(&dir.0).unwrap();
    assert_eq!(set.images.channels, 3);
    let a = set.images.image(0);
    assert_eq!(a[..20], a[20..40]);
    assert_eq!(a[..20], a[40..]);
    assert_eq!(
        set.images.image(1)[..],
        [[1u8; 20], [2; 20], [3; 20]].concat()
    );
}

#[test]
fn forced_grey_turns_rgb_into_luminance() {
    let dir = TempDir::new("force-grey");
    rgb(&dir.join("red.png"), 3, 3, |_, _| [255, 0, 0]);
    rgb(&dir.join("white.png"), 3, 3, |_, _| [255, 255, 255]);
    let opts = FolderOptions {
        channels: Some(1),
        ..FolderOptions::default()
    };
    let set = load_with(&dir.0, &opts).unwrap();
    assert_eq!(set.images.channels, 1);
    assert!(
        set.images.image(0).iter().all(|&p| (50..=80).contains(&p)),
        "{:?}",
        set.images.image(0)
    );
    assert!(set.images.image(1).iter().all(|&p| p == 255));
}

#[test]
fn alpha_is_dropped() {
    let dir = TempDir::new("alpha");
    let path = dir.join("a.png");
    image::RgbaImage::from_fn(2, 2, |_, _| image::Rgba([9, 8, 7, 0]))
        .save(&path)
        .unwrap();
    let set = load(&dir.0).unwrap();
    assert_eq!(set.images.channels, 3);
    assert_eq!(set.images.pixels, [9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7]);
}

#[test]
fn progress_counts_every_image_up_to_the_total() {
    let dir = TempDir::new("progress");
    for i in 0..5 {
        grey(&dir.join(&format!("{i}.png")), 2, 2, |_, _| 0);
    }
    let calls = std::sync::Mutex::new(Vec::new());
    let set = ae_data::load_folder(&dir.0, &FolderOptions::default(), &|done, total| {
        calls.lock().unwrap().push((done, total));
    })
    .unwrap();
    assert_eq!(set.images.len(), 5);
    let mut calls = calls.into_inner().unwrap();
    calls.sort();
    assert_eq!(calls, (1..=5).map(|d| (d, 5)).collect::<Vec<_>>());
}
