//! A trained run opened for use: its config, the model rebuilt on a device, its data, and
//! where the command's files go.

use super::RunArgs;
use crate::backend;
use crate::batch::{read_f32, samples_tensor};
use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::run_dir::{RunDir, WEIGHTS};
use ae_data::{Rng, Samples, Split};
use ae_models::Autoencoder;
use anyhow::{Context, Result, bail};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// Samples per forward pass when only inferring.
pub const BATCH: usize = 500;

/// The folder inside a run that `ae` writes to by default.
pub const AE_DIR: &str = "ae";

/// An opened run.
pub struct Session {
    /// The run folder.
    pub run: RunDir,
    /// What it was trained with.
    pub cfg: RunConfig,
    /// The trained model, without autodiff.
    pub model: Autoencoder,
    /// Where the model lives.
    pub device: Device,
    data_dir: Option<PathBuf>,
}

impl Session {
    /// Opens `args.run` and rebuilds its model on the chosen backend.
    pub fn open(args: &RunArgs) -> Result<Session> {
        let path = &args.run;
        if !path.is_dir() {
            bail!(
                "run folder {} does not exist (train one first, e.g. `train dense-ae --out {}`)",
                path.display(),
                path.display()
            );
        }
        let run = RunDir::open(path);
        run.load_config()?;
        if !run.file(WEIGHTS).exists() {
            bail!(
                "{} has no {WEIGHTS}: its training did not finish (train it again with --overwrite)",
                path.display()
            );
        }
        let resolved = backend::resolve(args.backend)?;
        eprintln!("{}", resolved.note);
        let device = resolved.device;
        let (cfg, model) = run.load_model(&device)?;
        eprintln!(
            "model: {} on {} ({}-number code) from {}",
            cfg.model,
            cfg.dataset,
            cfg.network.code_dim(),
            path.display()
        );
        Ok(Session {
            run,
            cfg,
            model,
            device,
            data_dir: args.data_dir.clone(),
        })
    }

    /// Refuses runs on the generated vector sets for commands that draw images.
    pub fn need_images(&self, command: &str) -> Result<()> {
        if self.cfg.dataset.images().is_none() {
            bail!(
                "`ae {command}` works on images; {} was trained on the generated {} vectors",
                self.run.path.display(),
                self.cfg.dataset
            );
        }
        Ok(())
    }

    /// Refuses anything but a VAE.
    pub fn need_vae(&self, command: &str, why: &str) -> Result<()> {
        if self.cfg.model != ModelName::Vae {
            bail!(
                "`ae {command}` {why}; {} holds a {}, not a vae (train one with `train vae`)",
                self.run.path.display(),
                self.cfg.model
            );
        }
        Ok(())
    }

    /// One split of the run's data set, limited as in training, then to `limit`.
    pub fn load(&self, split: Split, limit: Option<usize>) -> Result<Samples> {
        self.load_dataset(self.cfg.dataset, split, limit)
    }

    /// One split of another data set (same sample shape), limited as the run's.
    pub fn load_dataset(
        &self,
        dataset: DatasetArg,
        split: Split,
        limit: Option<usize>,
    ) -> Result<Samples> {
        let cfg = RunConfig {
            dataset,
            ..self.cfg.clone()
        };
        let mut set = crate::data::load_split(&cfg, split, self.data_dir.clone())?;
        if let Some(n) = limit {
            set.truncate(n);
        }
        if set.is_empty() {
            let split = match split {
                Split::Train => "training",
                Split::Test => "test",
            };
            bail!("the {dataset} {split} set is empty");
        }
        Ok(set)
    }

    /// Where a command writes `name`: `--out` if given, else `<run>/ae/<name>`. Creates the
    /// folder.
    pub fn output(&self, out: Option<&Path>, name: &str) -> Result<PathBuf> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => self.run.file(AE_DIR).join(name),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
        Ok(path)
    }

    /// Encodes the samples `indices` of `set` in batches, handing each batch's indices and
    /// codes (`[batch, k]`, row-major) to `each`.
    pub fn encode_batches(
        &self,
        set: &Samples,
        indices: &[usize],
        mut each: impl FnMut(&[usize], Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        for chunk in indices.chunks(BATCH) {
            let x = samples_tensor(set, chunk, &self.device);
            each(chunk, read_f32(self.model.encode(x), "codes")?)?;
        }
        Ok(())
    }

    /// The codes of `indices`, row after row.
    pub fn codes(&self, set: &Samples, indices: &[usize]) -> Result<Vec<f32>> {
        let mut all = Vec::with_capacity(indices.len() * self.cfg.network.code_dim());
        self.encode_batches(set, indices, |_, c| {
            all.extend(c);
            Ok(())
        })?;
        Ok(all)
    }

    /// Decodes rows of codes into `[n, c, h, w]` images.
    pub fn decode(&self, codes: Vec<f32>) -> Result<Tensor<4>> {
        let k = self.cfg.network.code_dim();
        if k == 0 || !codes.len().is_multiple_of(k) {
            bail!("{} numbers are not rows of {k}-number codes", codes.len());
        }
        let n = codes.len() / k;
        Ok(self.model.decode(Tensor::from_data(
            TensorData::new(codes, [n, k]),
            &self.device,
        )))
    }
}

/// Checks that every index names a sample of a split of `len`.
pub fn check_indices(indices: &[usize], len: usize, what: &str) -> Result<()> {
    if let Some(bad) = indices.iter().find(|&&i| i >= len) {
        bail!("{what} {bad}: there are {len} samples (0 to {})", len - 1);
    }
    Ok(())
}

/// `count` distinct indices below `len`, drawn with `seed`, in drawn order.
pub fn random_indices(len: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    let mut rng = Rng::new(seed);
    let count = count.min(len);
    for i in 0..count {
        let j = i + (rng.next_u64() % (len - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_indices_are_distinct_and_seeded() {
        let a = random_indices(50, 20, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
        assert!(a.iter().all(|&i| i < 50));
        assert_eq!(a, random_indices(50, 20, 7));
        assert_ne!(a, random_indices(50, 20, 8));
        assert_eq!(random_indices(3, 10, 1).len(), 3);
        assert!(check_indices(&[0, 2], 3, "--indices").is_ok());
        let err = check_indices(&[5], 3, "--indices").unwrap_err().to_string();
        assert_eq!(err, "--indices 5: there are 3 samples (0 to 2)");
    }
}
