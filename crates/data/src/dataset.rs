//! MNIST-like image sets: which files make them up, and loading a split from a folder.

use crate::error::DataError;
use crate::idx;
use crate::rng::Rng;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A published data set of 28x28 grey images with labels 0..=9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// Handwritten digits (LeCun, Cortes, Burges).
    Mnist,
    /// Zalando's clothing images, a drop-in replacement for MNIST.
    FashionMnist,
}

/// The training or the test part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// 60,000 images.
    Train,
    /// 10,000 images.
    Test,
}

/// One file of a data set as published: its name and the SHA-256 of its decompressed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// The file name without `.gz`, e.g. `train-images-idx3-ubyte`.
    pub stem: &'static str,
    /// SHA-256 (hex) of the decompressed IDX content.
    pub sha256: &'static str,
}

impl DatasetName {
    /// Every data set, in the order shown to users.
    pub const ALL: [DatasetName; 2] = [DatasetName::Mnist, DatasetName::FashionMnist];

    /// The name used on the command line and as a folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// The public mirror the files are downloaded from (a folder URL ending in `/`).
    pub fn mirror(self) -> &'static str {
        match self {
            DatasetName::Mnist => "https://ossci-datasets.s3.amazonaws.com/mnist/",
            DatasetName::FashionMnist => {
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
            }
        }
    }

    /// The four files: train images, train labels, test images, test labels.
    pub fn files(self) -> [FileSpec; 4] {
        let f = |stem, sha256| FileSpec { stem, sha256 };
        match self {
            DatasetName::Mnist => [
                f(
                    "train-images-idx3-ubyte",
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                ),
                f(
                    "train-labels-idx1-ubyte",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                ),
                f(
                    "t10k-images-idx3-ubyte",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                ),
                f(
                    "t10k-labels-idx1-ubyte",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
            ],
            DatasetName::FashionMnist => [
                f(
                    "train-images-idx3-ubyte",
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ),
                f(
                    "train-labels-idx1-ubyte",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
                f(
                    "t10k-images-idx3-ubyte",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ),
                f(
                    "t10k-labels-idx1-ubyte",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            ],
        }
    }

    /// The images and labels files of one split.
    pub fn split_files(self, split: Split) -> (FileSpec, FileSpec) {
        let [tri, trl, tei, tel] = self.files();
        match split {
            Split::Train => (tri, trl),
            Split::Test => (tei, tel),
        }
    }

    /// The names of the ten classes.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            DatasetName::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetName::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DataError::UnknownDataset(s.to_string()))
    }
}

/// Images and labels of one split, kept as bytes (1 byte a pixel and channel: 47 MB for MNIST's
/// training set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Channels per pixel: 1 (grey) or 3 (red, green, blue).
    pub channels: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// `len() * channels * rows * cols` bytes, image after image, each image channel after
    /// channel (planar, as tensors are laid out), each plane row-major; 0 = black.
    pub pixels: Vec<u8>,
    /// One label per image, 0..=9.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image: channels x rows x cols.
    pub fn image_size(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_size();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Keeps only the first `n` images (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.labels.truncate(n);
            self.pixels.truncate(n * self.image_size());
        }
    }

    /// Draws every pixel once as black or white, white with probability value / 255 (the
    /// "static binarisation" of the VAE literature's binarised MNIST): 0 stays 0, 255 stays 255.
    /// Image `i` draws from stream `i` of `seed`, so an image's draw does not depend on how many
    /// images the set holds or on the threads.
    pub fn binarize(&mut self, seed: u64) {
        let n = self.image_size().max(1);
        self.pixels
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, image)| {
                let mut rng = Rng::stream(seed, i as u64);
                for p in image {
                    // Uniform in 0..=254: below p with probability p / 255.
                    let r = ((rng.next_u64() >> 32) * 255) >> 32;
                    *p = if r < u64::from(*p) { 255 } else { 0 };
                }
            });
    }

    /// Builds a set from an images file and a labels file, checking that they agree.
    pub fn from_files(images: &Path, labels: &Path) -> Result<Self, DataError> {
        let img = idx::read(images, 3)?;
        let lab = idx::read(labels, 1)?;
        let mismatch = |detail: String| DataError::Mismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            detail,
        };
        if img.dims[0] != lab.dims[0] {
            return Err(mismatch(format!(
                "{} images but {} labels",
                img.dims[0], lab.dims[0]
            )));
        }
        if img.dims[0] == 0 {
            return Err(mismatch("the files hold no images".into()));
        }
        if let Some(pos) = lab.data.iter().position(|&l| l > 9) {
            return Err(mismatch(format!(
                "label {} of image {pos} is not a class 0..=9",
                lab.data[pos]
            )));
        }
        Ok(ImageSet {
            channels: 1,
            rows: img.dims[1],
            cols: img.dims[2],
            pixels: img.data,
            labels: lab.data,
        })
    }
}

/// The path of a data set file in `dir`: `<stem>.gz` if present, else `<stem>`; `None` if
/// neither exists.
pub fn file_in(dir: &Path, spec: &FileSpec) -> Option<PathBuf> {
    let gz = dir.join(format!("{}.gz", spec.stem));
    if gz.exists() {
        return Some(gz);
    }
    let raw = dir.join(spec.stem);
    raw.exists().then_some(raw)
}
