//! Loading the data set a run asks for: MNIST-like images from their files, a folder of the
//! user's images, or a generated toy set, as [`Samples`] for training and testing.

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

/// The seed of `--binarize`'s draw: fixed, so that every run and every `--seed` sees the same
/// black-and-white images (one data set, as the binarised MNIST of the literature is); the
/// test split draws from another stream.
pub const BINARIZE_SEED: u64 = 0xB17A_5EED;

/// Both splits of the configured data set, binarised and limited as configured.
pub fn load(cfg: &RunConfig, data_dir: Option<PathBuf>) -> Result<(Samples, Samples)> {
    if let Some(f) = &cfg.folder {
        let (train, test) = f.load()?;
        return Ok((
            finish(train, cfg, Split::Train),
            finish(test, cfg, Split::Test),
        ));
    }
    Ok((
        load_split(cfg, Split::Train, data_dir.clone())?,
        load_split(cfg, Split::Test, data_dir)?,
    ))
}

/// One split of the configured data set, binarised when configured and limited as configured
/// (`limit` for training, `test_limit` for test).
pub fn load_split(cfg: &RunConfig, split: Split, data_dir: Option<PathBuf>) -> Result<Samples> {
    let set = match (cfg.dataset.images(), split) {
        _ if cfg.dataset == DatasetArg::Folder => match &cfg.folder {
            Some(f) => f.load_split(split)?,
            None => bail!("the folder data set needs --data-dir DIR"),
        },
        (Some(name), _) => {
            let set = ae_data::load(name, split, &Sources::from_env(data_dir))?;
            if (set.rows, set.cols) != (28, 28) {
                bail!(
                    "{name}: images are {}x{}, the models take 28x28",
                    set.rows,
                    set.cols
                );
            }
            Samples::Images(set)
        }
        (None, Split::Train) if cfg.dataset == DatasetArg::Plane3d => {
            Samples::Vectors(synthetic::plane3d(PLANE3D_TRAIN, cfg.seed))
        }
        // Held out: the same distribution, another stream.
        (None, Split::Test) if cfg.dataset == DatasetArg::Plane3d => {
            Samples::Vectors(synthetic::plane3d(PLANE3D_TEST, cfg.seed ^ 0x7E57))
        }
        (None, Split::Train) => Samples::Vectors(synthetic::onehot4(ONEHOT4_REPEATS)),
        (None, Split::Test) => Samples::Vectors(synthetic::onehot4(1)),
    };
    Ok(finish(set, cfg, split))
}

/// `set` binarised (before the limit, so that an image's draw is the same with any limit) and
/// limited, as `cfg` says for `split`.
fn finish(mut set: Samples, cfg: &RunConfig, split: Split) -> Samples {
    if cfg.binarize {
        binarize(&mut set, split);
    }
    let n = match split {
        Split::Train => cfg.limit,
        Split::Test => cfg.test_limit,
    };
    if let Some(n) = n {
        set.truncate(n);
    }
    set
}

/// `--binarize`'s draw for images of `split` (vectors are left as they are).
pub fn binarize(set: &mut Samples, split: Split) {
    if let Samples::Images(images) = set {
        let stream = match split {
            Split::Train => 0,
            Split::Test => 1,
        };
        images.binarize(BINARIZE_SEED ^ stream);
    }
}
