//! The `train` command line: a model, and flags that override its config.

use crate::backend::BackendChoice;
use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::train::{TrainOptions, TrainReport};
use ae_models::ReconLoss;
use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;

/// Loss names for clap.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LossArg {
    /// Binary cross-entropy (per-pixel mean).
    Bce,
    /// Mean squared error (per-pixel mean).
    Mse,
}

impl From<LossArg> for ReconLoss {
    fn from(l: LossArg) -> Self {
        match l {
            LossArg::Bce => ReconLoss::Bce,
            LossArg::Mse => ReconLoss::Mse,
        }
    }
}

/// Train an autoencoder on MNIST or Fashion-MNIST with Burn.
///
/// Defaults come from config/<model>.json; --config replaces them with a complete file of your
/// own, and every flag given overrides both. The run folder gets config.json, model.bpk,
/// metrics.csv (per-epoch train and test loss) and reconstructions.png.
#[derive(Debug, Parser)]
#[command(name = "train", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct TrainArgs {
    /// The model to train.
    #[arg(value_enum)]
    pub model: ModelName,

    /// Where to compute: auto takes wgpu on a real GPU, else flex (the faster CPU backend).
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,

    /// The data set [default: from the config, mnist].
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,

    /// A folder holding the data set's files (or a <dataset>/ folder with them); otherwise
    /// $AE_DATA_DIR/<dataset>/, the user cache, /usr/share/datasets/<dataset>/, or a download.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Passes over the training set [default: from the config: 50].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Images per optimiser step [default: from the config: 128 conv-ae, 256 dense-ae].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Adam's learning rate [default: from the config: 0.001].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub lr: Option<f64>,

    /// Seed of the initial weights and of the shuffling [default: from the config: 42].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Units in the code of a dense model [default: from the config: 32].
    #[arg(long, value_name = "N")]
    pub latent_dim: Option<usize>,

    /// Reconstruction loss [default: from the config: bce].
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,

    /// Train on the first N training images only (quick runs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Test on the first N test images only (quick runs).
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,

    /// The run folder [default: runs/<model>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace the run already in the run folder.
    #[arg(long)]
    pub overwrite: bool,

    /// A complete config file (as config/<model>.json or a run's config.json); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one line per epoch instead of showing the dashboard, even on a terminal.
    #[arg(long)]
    pub no_dashboard: bool,
}

const AFTER_HELP: &str = "Examples:
  train conv-ae --backend wgpu
  train dense-ae --epochs 5 --latent-dim 64 --out runs/dense64
  train conv-ae --backend flex --limit 2000 --epochs 1 --out runs/quick
Environment: AE_DATA_DIR=DIR (DIR/<dataset>/ holds the IDX files)";

impl TrainArgs {
    /// The config this command line asks for: defaults or `--config`, then the flags.
    pub fn config(&self) -> Result<RunConfig> {
        let mut cfg = match &self.config {
            Some(path) => {
                let cfg = RunConfig::load(path)?;
                if cfg.model != self.model {
                    anyhow::bail!(
                        "{} configures {}, not {}",
                        path.display(),
                        cfg.model,
                        self.model
                    );
                }
                cfg
            }
            None => self.model.default_config(),
        };
        if let Some(d) = self.dataset {
            cfg.dataset = d;
        }
        if let Some(n) = self.epochs {
            cfg.epochs = n;
        }
        if let Some(n) = self.batch_size {
            cfg.batch_size = n;
        }
        if let Some(lr) = self.lr {
            cfg.lr = lr;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(l) = self.loss {
            cfg.loss = l.into();
        }
        if let Some(n) = self.latent_dim {
            cfg.set_latent_dim(n)?;
        }
        if self.limit.is_some() {
            cfg.limit = self.limit;
        }
        if self.test_limit.is_some() {
            cfg.test_limit = self.test_limit;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// How to run it.
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            backend: self.backend,
            data_dir: self.data_dir.clone(),
            out: self
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(self.model.as_str())),
            overwrite: self.overwrite,
            dashboard: !self.no_dashboard,
        }
    }
}

/// Runs `train` with these arguments and prints the closing summary.
pub fn run_train(args: &TrainArgs) -> Result<TrainReport> {
    let cfg = args.config()?;
    let report = crate::train::train(&cfg, &args.options())?;
    let secs: Vec<f64> = report.epochs.iter().map(|r| r.seconds).collect();
    let mean = secs.iter().sum::<f64>() / secs.len().max(1) as f64;
    println!(
        "{}: {} epoch{}, test {} loss {:.4} (per pixel), {mean:.1} s/epoch; run folder {}",
        cfg.model,
        report.epochs.len(),
        if report.epochs.len() == 1 { "" } else { "s" },
        cfg.loss.as_str(),
        report.test_loss,
        report.out.display()
    );
    Ok(report)
}
