//! The run folder: `config.json`, `model.bpk`, `metrics.csv`, pictures, the Learner's
//! checkpoints and logs. Every file is written under a temporary name and renamed into place.

use crate::config::RunConfig;
use ae_models::Autoencoder;
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use std::path::{Path, PathBuf};

/// The file names inside a run folder.
pub const CONFIG: &str = "config.json";
/// Final weights (burnpack).
pub const WEIGHTS: &str = "model.bpk";
/// Per-epoch averages.
pub const METRICS: &str = "metrics.csv";
/// Originals above, reconstructions below.
pub const RECONSTRUCTIONS: &str = "reconstructions.png";
/// Corrupted inputs, their reconstructions and the clean images (denoising-ae).
pub const DENOISING: &str = "denoising.png";
/// Decodes of codes drawn from the prior (vae).
pub const SAMPLES: &str = "samples.png";
/// The linear autoencoder against PCA (linear-ae).
pub const PCA: &str = "pca.json";
/// The codes of the one-hot inputs (onehot4).
pub const CODES: &str = "codes.csv";
/// The Learner's checkpoints, one file per record and epoch (`model-3.bpk`).
pub const CHECKPOINTS: &str = "checkpoint";
/// What `ae` writes by default.
pub const AE_DIR: &str = "ae";
/// What Burn's Learner writes besides the checkpoints: its per-split logs and its own log.
pub const BURN_LOGS: [&str; 3] = ["train", "valid", "experiment.log"];

/// What a run leaves in its folder, removed by `--overwrite` (and nothing else).
const RUN_ENTRIES: &[&str] = &[
    CONFIG,
    WEIGHTS,
    METRICS,
    RECONSTRUCTIONS,
    DENOISING,
    SAMPLES,
    PCA,
    CODES,
    CHECKPOINTS,
    // What `ae` wrote from the old weights.
    AE_DIR,
    BURN_LOGS[0],
    BURN_LOGS[1],
    BURN_LOGS[2],
];

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed (so a
/// crash never leaves a half-written file under the real name).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    ae_data::source::write_atomic(path, bytes).map_err(anyhow::Error::from)
}

/// Fails now, not after an hour of training, if the run folder is not writable.
fn check_writable(path: &Path) -> Result<()> {
    let probe = path.join(".write-test");
    write_atomic(&probe, b"")
        .with_context(|| format!("--out {} is not writable", path.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
}

impl RunDir {
    /// Opens an existing run folder for reading.
    pub fn open(path: &Path) -> RunDir {
        RunDir {
            path: path.to_path_buf(),
        }
    }

    /// Makes `path` ready for a new run: created if missing; refused if it holds another run,
    /// unless `overwrite`, which removes that run's files (and only those).
    pub fn create(path: &Path, overwrite: bool) -> Result<RunDir> {
        let dir = RunDir::open(path);
        if path.exists() && !path.is_dir() {
            bail!("--out {}: exists and is not a folder", path.display());
        }
        let holds_run = RUN_ENTRIES.iter().any(|e| path.join(e).exists());
        if holds_run {
            if !overwrite {
                bail!(
                    "--out {} already holds a run; pass --overwrite to replace it, or choose \
                     another folder with --out",
                    path.display()
                );
            }
            for entry in RUN_ENTRIES {
                let p = path.join(entry);
                let removed = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else if p.exists() {
                    std::fs::remove_file(&p)
                } else {
                    Ok(())
                };
                removed.with_context(|| format!("cannot remove {}", p.display()))?;
            }
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("--out {}: cannot create the folder", path.display()))?;
        check_writable(path)?;
        Ok(dir)
    }

    /// The run already in `path`, for `--resume`: it must hold a run's config.
    pub fn existing(path: &Path) -> Result<RunDir> {
        if !path.join(CONFIG).is_file() {
            bail!(
                "--resume: {} holds no run to continue (no {CONFIG}); leave out --resume to \
                 start one there",
                path.display()
            );
        }
        Ok(RunDir::open(path))
    }

    /// Opens the run in `path` to continue it (`--resume`): it must hold a run's config and be
    /// writable; nothing is removed.
    pub fn reopen(path: &Path) -> Result<RunDir> {
        let dir = RunDir::existing(path)?;
        check_writable(path)?;
        Ok(dir)
    }

    /// The path of `name` inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Saves the config the run uses.
    pub fn save_config(&self, config: &RunConfig) -> Result<()> {
        write_atomic(&self.file(CONFIG), config.to_json().as_bytes())
    }

    /// Reads the config a run used.
    pub fn load_config(&self) -> Result<RunConfig> {
        let path = self.file(CONFIG);
        if !path.exists() {
            bail!(
                "{} is not a run folder: it has no {CONFIG}",
                self.path.display()
            );
        }
        RunConfig::load(&path)
    }

    /// Saves the final weights.
    pub fn save_weights(&self, model: &Autoencoder) -> Result<()> {
        let bytes = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot serialise the weights: {e}"))?;
        write_atomic(&self.file(WEIGHTS), &bytes)
    }

    /// Rebuilds the model from the folder's config and weights on `device`.
    pub fn load_model(&self, device: &Device) -> Result<(RunConfig, Autoencoder)> {
        let config = self.load_config()?;
        let model = Autoencoder::new(&config.network, config.loss, config.sample_shape(), device)?;
        let path = self.file(WEIGHTS);
        let record = ModuleRecord::load(&path)
            .map_err(|e| anyhow::anyhow!("cannot read weights {}: {e}", path.display()))?;
        let model = model.try_load_record(record).map_err(|e| {
            anyhow::anyhow!(
                "{} does not fit the {} described in {CONFIG}: {e}",
                path.display(),
                config.model
            )
        })?;
        Ok((config, model))
    }
}
