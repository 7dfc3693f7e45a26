//! `ae-data`: MNIST-like data sets for the autoencoders, without any tensor library.
//!
//! A strict IDX reader ([`idx`]), the data sets and their files ([`dataset`]), where the files
//! come from and how they are downloaded ([`source`]), the generated toy sets ([`synthetic`]),
//! one type for all of them ([`Samples`]), input corruption for denoising ([`noise`]), and data
//! sets made from a folder of PNG and JPEG images ([`folder`]).
//! Turning samples into tensors is the application's job, so this crate builds and tests in
//! seconds and can be fuzzed.

pub mod dataset;
pub mod error;
pub mod folder;
pub mod idx;
pub mod noise;
pub mod rng;
pub mod samples;
pub mod source;
pub mod synthetic;

pub use dataset::{DatasetName, ImageSet, Split};
pub use error::{DataError, IdxDefect};
pub use folder::{
    DEFAULT_TEST_FRACTION, FolderOptions, FolderSet, Skipped, hold_out, load_folder, split_folders,
};
pub use noise::Noise;
pub use rng::Rng;
pub use samples::Samples;
pub use source::Sources;
pub use synthetic::VectorSet;

/// Loads one split of `dataset` from the first source that has it.
pub fn load(dataset: DatasetName, split: Split, sources: &Sources) -> Result<ImageSet, DataError> {
    let dir = sources.locate(dataset)?;
    let (images, labels) = dataset.split_files(split);
    let path = |spec| {
        dataset::file_in(&dir, spec).ok_or_else(|| {
            DataError::NotFound(format!("{}: {}.gz disappeared", dir.display(), spec.stem))
        })
    };
    ImageSet::from_files(&path(&images)?, &path(&labels)?)
}
