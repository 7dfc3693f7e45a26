//! The `train` command line: a model, and flags that override its config (`overrides`).

use crate::backend::BackendChoice;
use crate::config::{DatasetArg, ModelName};
use crate::train::{TrainOptions, TrainReport};
use ae_models::ReconLoss;
use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;

/// Loss names for clap.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LossArg {
    /// Binary cross-entropy.
    Bce,
    /// Squared error.
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

/// Sparsity penalties for clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SparsityArg {
    /// L1 on the code activations (--l1-weight).
    L1,
    /// KL divergence of each unit's mean activation from rho (--rho, --beta).
    Kl,
}

/// Noise kinds for clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoiseArg {
    /// Add N(0, std^2) and clip to [0, 1] (--noise-std).
    Gaussian,
    /// Set a fraction of the pixels to 0 (--drop).
    Masking,
}

/// Network bodies for clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// The conv-ae's convolution blocks.
    Conv,
    /// Fully connected layers.
    Dense,
}

/// Train an autoencoder on MNIST, Fashion-MNIST or a generated toy set with Burn.
///
/// Defaults come from config/<model>.json; --config replaces them with a complete file of your
/// own, and every flag given overrides both. The run folder gets config.json, model.bpk,
/// metrics.csv (per-epoch losses and their terms) and the model's pictures.
#[derive(Debug, Clone, Parser)]
#[command(name = "train", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct TrainArgs {
    /// The model to train.
    #[arg(value_enum)]
    pub model: ModelName,

    /// Where to compute: auto takes a GPU (CUDA in cuda builds, else wgpu), else flex.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,

    /// The data set [default: from the config: mnist; onehot4 for binary-ae].
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,

    /// A folder holding the data set's files (or a <dataset>/ folder with them); otherwise
    /// $AE_DATA_DIR/<dataset>/, the user cache, /usr/share/datasets/<dataset>/, or a download.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Passes over the training set [default: from the config].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Samples per optimiser step [default: from the config].
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Adam's learning rate [default: from the config: 0.001].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub lr: Option<f64>,

    /// Seed of the weights, the shuffling, the noise and generated data [default: 42].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Units in the code (dense, deep, sparse, linear, binary models and the VAE).
    #[arg(long, value_name = "N")]
    pub latent_dim: Option<usize>,

    /// Hidden widths of the encoder, outermost first, e.g. 128,64 ("none" for no hidden
    /// layer); the decoder mirrors them.
    #[arg(long, value_name = "W,W,..")]
    pub hidden: Option<String>,

    /// Allow a code at least as wide as the input (refused otherwise).
    #[arg(long)]
    pub overcomplete: bool,

    /// Reconstruction loss [default: from the config: bce; mse for linear-ae].
    #[arg(long, value_enum)]
    pub loss: Option<LossArg>,

    /// The body of denoising-ae or vae.
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,

    /// sparse-ae's penalty [default: kl].
    #[arg(long, value_enum)]
    pub sparsity: Option<SparsityArg>,

    /// Weight of the L1 penalty (sparse-ae --sparsity l1) [default: 1e-5].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub l1_weight: Option<f64>,

    /// Target mean activation of each code unit (sparse-ae --sparsity kl) [default: 0.05].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub rho: Option<f64>,

    /// Weight of the KL term: the sparsity penalty (sparse-ae) or the KL to N(0, I) (vae).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub beta: Option<f64>,

    /// vae: epochs over which the KL weight rises from 0 to beta [default: 0, none].
    #[arg(long, value_name = "N")]
    pub warmup: Option<usize>,

    /// denoising-ae's corruption [default: gaussian].
    #[arg(long, value_enum)]
    pub noise: Option<NoiseArg>,

    /// Standard deviation of the Gaussian noise, in pixel units [default: 0.5].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub noise_std: Option<f32>,

    /// Fraction of pixels the masking noise sets to 0 [default: 0.3].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub drop: Option<f32>,

    /// Train on the first N training samples only (quick runs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Test on the first N test samples only (quick runs).
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,

    /// The run folder [default: runs/<model>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace the run already in the run folder.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,

    /// Continue the run in the run folder from its last checkpoint (model, optimizer, epoch),
    /// with the config it was started with; only --epochs and --lr may change.
    #[arg(long)]
    pub resume: bool,

    /// A complete config file (as config/<model>.json or a run's config.json); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one line per epoch instead of showing the dashboard, even on a terminal.
    #[arg(long)]
    pub no_dashboard: bool,
}

const AFTER_HELP: &str = "Examples:
  train conv-ae --backend wgpu
  train deep-ae --hidden 256,128 --latent-dim 16 --epochs 20
  train sparse-ae --sparsity kl --rho 0.05 --beta 0.01
  train denoising-ae --arch dense --noise masking --drop 0.3
  train vae --latent-dim 2 --warmup 5 --out runs/vae2d
  train linear-ae --dataset plane3d
  train binary-ae
  train conv-ae --resume                  (continue runs/conv-ae after a crash or Ctrl-C)
Environment: AE_DATA_DIR=DIR (DIR/<dataset>/ holds the IDX files)";

impl TrainArgs {
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
            resume: self.resume,
            dashboard: !self.no_dashboard,
        }
    }
}

/// Runs `train` with these arguments and prints the closing summary.
pub fn run_train(args: &TrainArgs) -> Result<TrainReport> {
    let cfg = if args.resume {
        args.resumed_config(&args.options().out)?
    } else {
        args.config()?
    };
    let report = crate::train::train(&cfg, &args.options())?;
    let n = report.epochs.len().max(1) as f64;
    let mean = report.epochs.iter().map(|r| r.seconds).sum::<f64>() / n;
    let training = report.epochs.iter().map(|r| r.train_seconds).sum::<f64>() / n;
    println!(
        "{}: {} epoch{}, test {} loss {:.4} ({}), {mean:.1} s/epoch ({training:.1} s \
         training); run folder {}",
        cfg.model,
        report.epochs.len(),
        if report.epochs.len() == 1 { "" } else { "s" },
        cfg.loss.as_str(),
        report.test_loss,
        cfg.loss_unit(),
        report.out.display()
    );
    Ok(report)
}
