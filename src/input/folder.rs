//! Your own images: a folder of PNG and JPEG files as a run's data set.
//!
//! [`FolderConfig`] is what a run's `config.json` keeps of the folder: where it is, the options
//! asked for (`--image-size`, `--channels`, `--test-fraction`, `--strict`) and what the images
//! turned out to be (their shape and the class names of the label subfolders), so that every
//! `ae` command reloads exactly the same pictures. Decoding is `ae_data::folder`'s (parallel, with
//! a cache in the user cache folder); here the two splits are made (`DIR/train` and `DIR/test`,
//! or a seeded hold-out) and progress and skipped files are shown.

use ae_data::folder::{self, FolderOptions, FolderSet};
use ae_data::{ImageSet, Samples, Split};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The seed of the hold-out split: fixed, so that runs with different training seeds are
/// tested on the same images.
pub const HOLD_OUT_SEED: u64 = 0x7E57_5EED;

/// How many skipped files are named when some are skipped.
const NAMED_SKIPS: usize = 3;

/// The sets [`resolve`] decoded, kept for the [`FolderConfig::load`] that follows it in the same
/// process (training resolves the config, then loads its data), so the folder is read once.
static RESOLVED: std::sync::Mutex<Option<(FolderConfig, (Samples, Samples))>> =
    std::sync::Mutex::new(None);

/// A folder of images as a run's data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderConfig {
    /// The folder (absolute).
    pub dir: PathBuf,
    /// `--image-size`: every image resized to `[height, width]` (`null`: kept as they are, which
    /// needs them all the same size).
    pub image_size: Option<[usize; 2]>,
    /// `--channels` as asked: 1 or 3 (`null`: 3 when any image has colour, else 1).
    pub channels: Option<usize>,
    /// The share of images held out for testing when the folder has no `train/` and `test/`.
    pub test_fraction: f64,
    /// Refuse the data set on a file that cannot be read or decoded, instead of skipping it.
    pub strict: bool,
    /// `[channels, height, width]` of the images as the models see them.
    pub shape: [usize; 3],
    /// The classes (first-level subfolders, sorted); empty when the images have no labels.
    pub classes: Vec<String>,
}

/// What a user asks for on the command line; [`resolve`] makes it a [`FolderConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct FolderRequest {
    /// The folder.
    pub dir: PathBuf,
    /// `--image-size HxW`.
    pub image_size: Option<[usize; 2]>,
    /// `--channels`.
    pub channels: Option<usize>,
    /// `--test-fraction`.
    pub test_fraction: f64,
    /// `--strict`.
    pub strict: bool,
}

/// The user cache folder for decoded images: `$AE_CACHE_DIR`, else `<user cache>/autoencoders/
/// images`.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("AE_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|d| d.join("autoencoders").join("images")),
    }
}

/// Parses `--image-size`: `HxW` (height by width) or a single `N` for `NxN`.
pub fn parse_image_size(text: &str) -> Result<[usize; 2]> {
    let bad = || {
        anyhow::anyhow!(
            "--image-size {text}: expected HEIGHTxWIDTH in pixels, e.g. 64x64 or 30x45 (or one \
             number for a square)"
        )
    };
    let parts: Vec<&str> = text.trim().split(['x', 'X']).collect();
    let nums = parts
        .iter()
        .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<Vec<_>>>()?;
    let size = match nums[..] {
        [n] => [n, n],
        [h, w] => [h, w],
        _ => return Err(bad()),
    };
    if size.contains(&0) {
        bail!("--image-size {text}: a side of 0 pixels");
    }
    if size.iter().any(|&s| s > folder::MAX_SIDE as usize) {
        bail!(
            "--image-size {text}: at most {} pixels a side",
            folder::MAX_SIDE
        );
    }
    Ok(size)
}

impl FolderRequest {
    fn options(&self, channels: Option<usize>) -> FolderOptions {
        FolderOptions {
            image_size: self.image_size.map(|[h, w]| (h, w)),
            channels,
            strict: self.strict,
            cache_dir: cache_dir(),
        }
    }
}

impl FolderConfig {
    fn request(&self) -> FolderRequest {
        FolderRequest {
            dir: self.dir.clone(),
            image_size: self.image_size,
            channels: self.channels,
            test_fraction: self.test_fraction,
            strict: self.strict,
        }
    }

    /// Checks the numbers a config file could hold.
    pub fn validate(&self) -> Result<()> {
        check_fraction(self.test_fraction)?;
        if let Some(c) = self.channels
            && c != 1
            && c != 3
        {
            bail!("channels must be 1 or 3, not {c}");
        }
        let [c, h, w] = self.shape;
        if !(c == 1 || c == 3) || h == 0 || w == 0 {
            bail!("the folder's image shape {c}x{h}x{w} is not one the models take");
        }
        Ok(())
    }

    /// Both splits, as the run was trained on them.
    pub fn load(&self) -> Result<(Samples, Samples)> {
        if let Ok(mut kept) = RESOLVED.lock()
            && kept.as_ref().is_some_and(|(cfg, _)| cfg == self)
            && let Some((_, sets)) = kept.take()
        {
            return Ok(sets);
        }
        let (train, test) = load_splits(&self.request())?;
        if train.shape != self.shape || train.classes != self.classes {
            bail!(
                "{}: the images are not the ones the run was trained on any more (now {} \
                 with classes [{}]); train again",
                self.dir.display(),
                shape_text(train.shape),
                train.classes.join(", ")
            );
        }
        Ok((Samples::Images(train.images), Samples::Images(test.images)))
    }

    /// One split, as the run was trained on it.
    pub fn load_split(&self, split: Split) -> Result<Samples> {
        let (train, test) = self.load()?;
        Ok(match split {
            Split::Train => train,
            Split::Test => test,
        })
    }
}

/// A split of a folder data set.
struct Loaded {
    images: ImageSet,
    shape: [usize; 3],
    classes: Vec<String>,
}

fn shape_text([c, h, w]: [usize; 3]) -> String {
    let kind = if c == 3 { "colour" } else { "grey" };
    format!("{h}x{w} {kind}")
}

fn check_fraction(f: f64) -> Result<()> {
    if !(f > 0.0 && f < 1.0) {
        bail!("--test-fraction must be between 0 and 1 (exclusive), not {f}");
    }
    Ok(())
}

/// Decodes the folder (or finds it in the cache) and works out what it holds: the config a run
/// keeps. The splits are kept for the next [`FolderConfig::load`] of that config.
pub fn resolve(req: &FolderRequest) -> Result<FolderConfig> {
    check_fraction(req.test_fraction)?;
    let dir = std::path::absolute(&req.dir)
        .with_context(|| format!("{}: not a usable path", req.dir.display()))?;
    let req = FolderRequest { dir, ..req.clone() };
    let (train, test) = load_splits(&req)?;
    let cfg = FolderConfig {
        dir: req.dir.clone(),
        image_size: req.image_size,
        channels: req.channels,
        test_fraction: req.test_fraction,
        strict: req.strict,
        shape: train.shape,
        classes: train.classes,
    };
    let sets = (Samples::Images(train.images), Samples::Images(test.images));
    if let Ok(mut kept) = RESOLVED.lock() {
        *kept = Some((cfg.clone(), sets));
    }
    Ok(cfg)
}

/// Training and test images: `DIR/train` and `DIR/test` when both exist, else a seeded
/// hold-out of `test_fraction` of `DIR`.
fn load_splits(req: &FolderRequest) -> Result<(Loaded, Loaded)> {
    match folder::split_folders(&req.dir) {
        Some((train_dir, test_dir)) => {
            let train = decode(&train_dir, &req.options(req.channels))?;
            let channels = Some(train.images.channels);
            let test = decode(&test_dir, &req.options(channels))?;
            let test = agree(&train_dir, &train, &test_dir, test)?;
            Ok((loaded(train), loaded(test)))
        }
        None => {
            let all = decode(&req.dir, &req.options(req.channels))?;
            let classes = all.classes.clone();
            if all.images.len() < 2 {
                bail!(
                    "{}: {} image; a run needs at least 2 (one to train on, one to test on)",
                    req.dir.display(),
                    all.images.len()
                );
            }
            let (train, test) = folder::hold_out(all.images, req.test_fraction, HOLD_OUT_SEED)?;
            let shape = [train.channels, train.rows, train.cols];
            let part = |images| Loaded {
                images,
                shape,
                classes: classes.clone(),
            };
            Ok((part(train), part(test)))
        }
    }
}

fn loaded(set: FolderSet) -> Loaded {
    let i = &set.images;
    Loaded {
        shape: [i.channels, i.rows, i.cols],
        images: set.images,
        classes: set.classes,
    }
}

/// The test folder's images in the training folder's terms: the same size (unless resized to
/// one) and its labels renumbered by class name.
fn agree(
    train_dir: &Path,
    train: &FolderSet,
    test_dir: &Path,
    mut test: FolderSet,
) -> Result<FolderSet> {
    let (a, b) = (&train.images, &test.images);
    if (a.rows, a.cols) != (b.rows, b.cols) {
        bail!(
            "{} holds {}x{} images but {} holds {}x{}; give --image-size HxW to resize them all",
            train_dir.display(),
            a.rows,
            a.cols,
            test_dir.display(),
            b.rows,
            b.cols
        );
    }
    if train.classes.is_empty() != test.classes.is_empty() {
        bail!(
            "{} and {} must both have class subfolders or both have none",
            train_dir.display(),
            test_dir.display()
        );
    }
    let mut renumber = Vec::with_capacity(test.classes.len());
    for name in &test.classes {
        let Some(k) = train.classes.iter().position(|c| c == name) else {
            bail!(
                "{}: class {name} is not a class of {} ({})",
                test_dir.display(),
                train_dir.display(),
                train.classes.join(", ")
            );
        };
        renumber.push(k as u8);
    }
    for label in &mut test.images.labels {
        *label = renumber.get(usize::from(*label)).copied().unwrap_or(*label);
    }
    test.classes = train.classes.clone();
    Ok(test)
}

/// Every image of `dir` in the size and channels `[c, h, w]` (resized), e.g. to compare a
/// model's own images with another folder's.
pub fn load_resized(dir: &Path, [c, h, w]: [usize; 3]) -> Result<Samples> {
    let opts = FolderOptions {
        image_size: Some((h, w)),
        channels: Some(c),
        strict: false,
        cache_dir: cache_dir(),
    };
    Ok(Samples::Images(decode(dir, &opts)?.images))
}

/// Decodes one folder with a progress line, then says what was skipped.
fn decode(dir: &Path, opts: &FolderOptions) -> Result<FolderSet> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let shown = std::sync::atomic::AtomicUsize::new(0);
    let progress = |done: usize, total: usize| {
        // Redrawn about a hundred times, on a terminal only.
        let step = (total / 100).max(1);
        if terminal && (done.is_multiple_of(step) || done == total) {
            let before = shown.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
            if done > before {
                eprint!("\r  decoding {}: {done}/{total} images  ", dir.display());
            }
        }
    };
    let set = folder::load_folder(dir, opts, &progress)?;
    if terminal && shown.into_inner() > 0 {
        eprint!("\r{:60}\r", "");
    }
    let i = &set.images;
    let how = if set.from_cache {
        "from the cache".to_string()
    } else {
        format!("decoded in {:.1} s", started.elapsed().as_secs_f64())
    };
    eprintln!(
        "{}: {} images, {} ({how}){}",
        dir.display(),
        i.len(),
        shape_text([i.channels, i.rows, i.cols]),
        match set.classes.len() {
            0 => ", no labels".to_string(),
            n => format!(", {n} classes"),
        }
    );
    if !set.skipped.is_empty() {
        let named: Vec<String> = set
            .skipped
            .iter()
            .take(NAMED_SKIPS)
            .map(|s| format!("{}: {}", s.path.display(), s.reason))
            .collect();
        eprintln!(
            "skipped {} files that could not be read as images ({}{}); --strict refuses them",
            set.skipped.len(),
            named.join("; "),
            if set.skipped.len() > NAMED_SKIPS {
                "; ..."
            } else {
                ""
            }
        );
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_parse() {
        assert_eq!(parse_image_size("30x45").unwrap(), [30, 45]);
        assert_eq!(parse_image_size("64").unwrap(), [64, 64]);
        assert_eq!(parse_image_size(" 8X9 ").unwrap(), [8, 9]);
        for bad in ["", "x", "3x", "3x4x5", "-3x4", "0x5", "axb", "100000x3"] {
            let err = parse_image_size(bad).unwrap_err().to_string();
            assert!(err.contains("--image-size"), "{bad}: {err}");
        }
    }

    #[test]
    fn fractions_outside_zero_one_are_refused() {
        for f in [0.0, 1.0, -0.5, f64::NAN, 2.0] {
            assert!(check_fraction(f).is_err(), "{f}");
        }
        check_fraction(0.1).unwrap();
    }
}
