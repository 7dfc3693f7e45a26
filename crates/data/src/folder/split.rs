//! Training and test parts of a folder: `train/` and `test/` sub-folders when the folder has
//! them, else a seeded hold-out of part of one set.

use crate::dataset::ImageSet;
use crate::error::DataError;
use crate::rng::Rng;
use std::path::{Path, PathBuf};

/// The share of a folder held out as the test set when it has no `test/` sub-folder.
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;

/// `dir/train` and `dir/test`, when both exist as folders.
pub fn split_folders(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (train, test) = (dir.join("train"), dir.join("test"));
    (train.is_dir() && test.is_dir()).then_some((train, test))
}

/// Splits `set` into (training, test): shuffles the indices with [`Rng`] seeded by `seed`, puts
/// `round(n * fraction)` images (at least 1, at most n - 1) into the test set and the rest into
/// training, each part keeping the original order.
///
/// Errors when the set has fewer than 2 images or `fraction` is not in (0, 1).
pub fn hold_out(
    set: ImageSet,
    fraction: f64,
    seed: u64,
) -> Result<(ImageSet, ImageSet), DataError> {
    let n = set.len();
    if n < 2 {
        return Err(DataError::HoldOut(format!(
            "the set has {n} image{}, at least 2 are needed (one to train on, one to test)",
            if n == 1 { "" } else { "s" }
        )));
    }
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(DataError::HoldOut(format!(
            "the test fraction {fraction} is not between 0 and 1 (exclusive)"
        )));
    }
    let n_test = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    // Fisher-Yates, each draw uniform in 0..=i by a 64x64 -> 128 bit multiply.
    for i in (1..n).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    let mut in_test = vec![false; n];
    for &i in &order[..n_test] {
        in_test[i] = true;
    }
    let part = |test: bool| {
        let keep: Vec<usize> = (0..n).filter(|&i| in_test[i] == test).collect();
        let mut pixels = Vec::with_capacity(keep.len() * set.image_size());
        for &i in &keep {
            pixels.extend_from_slice(set.image(i));
        }
        ImageSet {
            channels: set.channels,
            rows: set.rows,
            cols: set.cols,
            pixels,
            labels: keep.iter().map(|&i| set.labels[i]).collect(),
        }
    };
    Ok((part(false), part(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> ImageSet {
        ImageSet {
            channels: 1,
            rows: 1,
            cols: 2,
            pixels: (0..2 * n).map(|i| i as u8).collect(),
            labels: (0..n).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn the_test_part_is_rounded_and_never_empty_nor_everything() {
        for (n, fraction, expected) in [(10, 0.1, 1), (10, 0.25, 3), (2, 0.01, 1), (3, 0.99, 2)] {
            let (train, test) = hold_out(set(n), fraction, 1).unwrap();
            assert_eq!(
                (train.len(), test.len()),
                (n - expected, expected),
                "{n} {fraction}"
            );
        }
    }

    #[test]
    fn pixels_follow_their_labels() {
        let (train, test) = hold_out(set(20), 0.3, 5).unwrap();
        for part in [&train, &test] {
            for i in 0..part.len() {
                let l = part.labels[i];
                assert_eq!(part.image(i), [2 * l, 2 * l + 1]);
            }
        }
    }
}
