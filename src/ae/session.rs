//! A trained run opened for use: its config, the model rebuilt on a device, its data, and
//! where the command's files go.

use super::RunArgs;
use crate::backend;
use crate::backend::read_f32;
use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::input::batch::{samples_host, samples_tensor};
use crate::picture::Grid;
use crate::run_dir::{AE_DIR, RunDir, WEIGHTS};
use ae_data::{Noise, Rng, Samples, Split};
use ae_models::Autoencoder;
use anyhow::{Context, Result, bail};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// Samples per forward pass when only inferring.
pub const BATCH: usize = 500;

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
        Ok(Session::new(run, cfg, model, device, args.data_dir.clone()))
    }

    /// A session on a model already in memory (the one `train` has just trained), its data
    /// found through `data_dir` as in training.
    pub fn new(
        run: RunDir,
        cfg: RunConfig,
        model: Autoencoder,
        device: Device,
        data_dir: Option<PathBuf>,
    ) -> Session {
        Session {
            run,
            cfg,
            model,
            device,
            data_dir,
        }
    }

    /// Refuses runs on the generated vector sets for commands that draw images.
    pub fn need_images(&self, command: &str) -> Result<()> {
        if !self.cfg.dataset.is_images() {
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
        let mut set = crate::input::data::load_split(&cfg, split, self.data_dir.clone())?;
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

    /// Decodes rows of codes, [`BATCH`] at a time (a device buffer has a size limit), into
    /// the images' pixels, one image after another.
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<f32>> {
        let k = self.cfg.network.code_dim();
        if k == 0 || !codes.len().is_multiple_of(k) {
            bail!("{} numbers are not rows of {k}-number codes", codes.len());
        }
        let mut pixels =
            Vec::with_capacity(codes.len() / k * self.cfg.sample_shape().iter().product::<usize>());
        for chunk in codes.chunks(BATCH * k) {
            let z = Tensor::from_data(
                TensorData::new(chunk.to_vec(), [chunk.len() / k, k]),
                &self.device,
            );
            pixels.extend(read_f32(self.model.decode(z), "decodes")?);
        }
        Ok(pixels)
    }

    /// The decodes of rows of codes as a grid, `cols` to a row.
    pub fn decode_grid(&self, codes: &[f32], cols: usize, scale: u32) -> Result<Grid> {
        let k = self.cfg.network.code_dim().max(1);
        crate::picture::check_size(codes.len() / k, self.tile(), cols, scale)?;
        Ok(Grid::from_pixels(
            &self.decode(codes)?,
            self.tile(),
            cols,
            scale,
        ))
    }

    /// The samples `indices` of `set` (corrupted by `noise` with `seed` where given) and the
    /// model's reconstructions of them, [`BATCH`] at a time, each as pixels image after image.
    pub fn reconstruct(
        &self,
        set: &Samples,
        indices: &[usize],
        noise: Option<(&Noise, u64)>,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let [c, h, w] = set.shape();
        let inputs = samples_host(set, indices, noise);
        let mut outputs = Vec::with_capacity(inputs.len());
        for (chunk, values) in indices.chunks(BATCH).zip(inputs.chunks(BATCH * c * h * w)) {
            let x = TensorData::new(values.to_vec(), [chunk.len(), c, h, w]);
            let out = self.model.reconstruct(Tensor::from_data(x, &self.device));
            outputs.extend(read_f32(out, "reconstructions")?);
        }
        Ok((inputs, outputs))
    }

    /// Channels, height and width of the run's images.
    pub fn tile(&self) -> [usize; 3] {
        self.cfg.sample_shape()
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
