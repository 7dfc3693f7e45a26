//! Loading the data set a run asks for: MNIST-like images from their files, or a generated
//! toy set, as [`Samples`] for training and testing.

use crate::config::DatasetArg;
use crate::config::RunConfig;
use ae_data::{Samples, Sources, Split, synthetic};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Training points of `plane3d`.
pub const PLANE3D_TRAIN: usize = 1000;
/// Test points of `plane3d`.
pub const PLANE3D_TEST: usize = 200;
/// How often each one-hot vector appears in an epoch of `onehot4` (4 x 250 = 1000 samples).
pub const ONEHOT4_REPEATS: usize = 250;

/// Both splits of the configured data set, limited as configured.
pub fn load(cfg: &RunConfig, data_dir: Option<PathBuf>) -> Result<(Samples, Samples)> {
    let (mut train, mut test) = match cfg.dataset.images() {
        Some(name) => {
            let sources = Sources::from_env(data_dir);
            let train = ae_data::load(name, Split::Train, &sources)?;
            let test = ae_data::load(name, Split::Test, &sources)?;
            if (train.rows, train.cols) != (28, 28) || (test.rows, test.cols) != (28, 28) {
                bail!(
                    "{name}: images are {}x{}, the models take 28x28",
                    train.rows,
                    train.cols
                );
            }
            (Samples::Images(train), Samples::Images(test))
        }
        None if cfg.dataset == DatasetArg::Plane3d => (
            Samples::Vectors(synthetic::plane3d(PLANE3D_TRAIN, cfg.seed)),
            // Held out: the same distribution, another stream.
            Samples::Vectors(synthetic::plane3d(PLANE3D_TEST, cfg.seed ^ 0x7E57)),
        ),
        None => (
            Samples::Vectors(synthetic::onehot4(ONEHOT4_REPEATS)),
            Samples::Vectors(synthetic::onehot4(1)),
        ),
    };
    if let Some(n) = cfg.limit {
        train.truncate(n);
    }
    if let Some(n) = cfg.test_limit {
        test.truncate(n);
    }
    Ok((train, test))
}
