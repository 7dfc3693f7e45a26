//! Training and test parts: `train/` and `test/` folders, and the seeded hold-out.

use crate::common::TempDir;
use ae_data::{DEFAULT_TEST_FRACTION, DataError, ImageSet, hold_out, split_folders};

/// `n` one-pixel images whose label and pixel are their index.
fn numbered(n: usize) -> ImageSet {
    ImageSet {
        channels: 1,
        rows: 1,
        cols: 1,
        pixels: (0..n).map(|i| i as u8).collect(),
        labels: (0..n).map(|i| i as u8).collect(),
    }
}

#[test]
fn hold_out_sizes_follow_the_fraction() {
    let (train, test) = hold_out(numbered(20), DEFAULT_TEST_FRACTION, 0).unwrap();
    assert_eq!((train.len(), test.len()), (18, 2));
    let (train, test) = hold_out(numbered(10), 0.34, 0).unwrap();
    assert_eq!((train.len(), test.len()), (7, 3));
    let (train, test) = hold_out(numbered(2), 0.001, 0).unwrap();
    assert_eq!((train.len(), test.len()), (1, 1));
    let (train, test) = hold_out(numbered(3), 0.999, 0).unwrap();
    assert_eq!((train.len(), test.len()), (1, 2));
}

#[test]
fn hold_out_is_disjoint_complete_ordered_and_seeded() {
    let (train, test) = hold_out(numbered(100), 0.25, 7).unwrap();
    let mut all: Vec<u8> = train.labels.iter().chain(&test.labels).copied().collect();
    assert!(
        train.labels.is_sorted() && test.labels.is_sorted(),
        "order kept"
    );
    assert_eq!(train.pixels, train.labels);
    assert_eq!(test.pixels, test.labels);
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<u8>>(), "disjoint and complete");

    let again = hold_out(numbered(100), 0.25, 7).unwrap();
    assert_eq!(again, (train, test.clone()));
    let other = hold_out(numbered(100), 0.25, 8).unwrap();
    assert_ne!(other.1, test);
    assert!(
        test.labels.windows(2).any(|w| w[1] != w[0] + 1) || test.labels[0] != 0,
        "shuffled"
    );
}

#[test]
fn hold_out_refuses_tiny_sets_and_bad_fractions() {
    for n in [0, 1] {
        assert!(matches!(
            hold_out(numbered(n), 0.5, 0),
            Err(DataError::HoldOut(_))
        ));
    }
    for fraction in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let error = hold_out(numbered(10), fraction, 0).unwrap_err();
        assert!(error.to_string().contains("fraction"), "{error}");
    }
}

#[test]
fn split_folders_needs_both_train_and_test_folders() {
    let dir = TempDir::new("split");
    assert_eq!(split_folders(&dir.0), None);
    std::fs::create_dir_all(dir.join("train")).unwrap();
    assert_eq!(split_folders(&dir.0), None);
    std::fs::write(dir.join("test"), b"a file, not a folder").unwrap();
    assert_eq!(split_folders(&dir.0), None);
    std::fs::remove_file(dir.join("test")).unwrap();
    std::fs::create_dir_all(dir.join("test")).unwrap();
    assert_eq!(
        split_folders(&dir.0),
        Some((dir.join("train"), dir.join("test")))
    );
}
