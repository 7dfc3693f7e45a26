//! The `train` command line: a model, and flags that override its config (`overrides`).

use crate::backend::{BackendChoice, KernelsArg};
use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::train::defaults::{L1_WEIGHT, MASKING_DROP, across_models, help};
use crate::train::{TrainOptions, TrainReport};
use ae_data::Noise;
use ae_models::ReconLoss;
use ae_models::{NetworkConfig, Sparsity, WideInit};
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
    /// keras.io's denoising net: 32-channel convolutions and two poolings, then two stride-2
    /// transposed convolutions; a 32x7x7 code, twice the image's size (conv-ae, denoising-ae).
    Wide,
}

/// Weight initialisations for clap (--arch wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitArg {
    /// PyTorch's and Burn's: weights and biases uniform in +-1/sqrt(fan_in).
    Kaiming,
    /// Keras's: Glorot-uniform weights, zero biases.
    Glorot,
}

impl From<InitArg> for WideInit {
    fn from(i: InitArg) -> Self {
        match i {
            InitArg::Kaiming => WideInit::Kaiming,
            InitArg::Glorot => WideInit::Glorot,
        }
    }
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

    #[arg(long, value_enum, help = help("The data set", across_models(|c| Some(c.dataset))))]
    pub dataset: Option<DatasetArg>,

    /// A folder holding the data set's files (or a <dataset>/ folder with them); otherwise
    /// $AE_DATA_DIR/<dataset>/, the user cache, /usr/share/datasets/<dataset>/, or a download.
    /// With --dataset folder: the folder of your PNG and JPEG images (searched recursively;
    /// first-level subfolders are classes; DIR/train and DIR/test, when both exist, are the
    /// splits).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[arg(long, value_name = "N",
          help = help("Passes over the training set", across_models(|c| Some(c.epochs))))]
    pub epochs: Option<usize>,

    #[arg(long, value_name = "N",
          help = help("Samples per optimiser step", across_models(|c| Some(c.batch_size))))]
    pub batch_size: Option<usize>,

    #[arg(long, value_name = "F", allow_negative_numbers = true,
          help = help("Adam's learning rate", across_models(|c| Some(c.lr))))]
    pub lr: Option<f64>,

    #[arg(long, value_name = "F", allow_negative_numbers = true, help = help(
        "Adam's epsilon (Keras's default is 1e-7)",
        across_models(|c| Some(c.adam_eps)),
    ))]
    pub adam_eps: Option<f64>,

    #[arg(long, value_name = "N", help = help(
        "Seed of the weights, the shuffling, the noise and generated data",
        across_models(|c| Some(c.seed)),
    ))]
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

    #[arg(long, value_enum, help = help("Reconstruction loss", across_models(|c| Some(c.loss))))]
    pub loss: Option<LossArg>,

    /// The body of conv-ae (conv, wide), denoising-ae (conv, dense, wide) or vae (conv, dense).
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,

    /// How --arch wide's weights start [default: kaiming].
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,

    #[arg(long, value_enum, help = help("sparse-ae's penalty", across_models(|c| {
        sparsity(c).map(|s| if matches!(s, Sparsity::L1 { .. }) { "l1" } else { "kl" })
    })))]
    pub sparsity: Option<SparsityArg>,

    #[arg(long, value_name = "F", allow_negative_numbers = true, help = help(
        "Weight of the L1 penalty (sparse-ae --sparsity l1)",
        format!("{L1_WEIGHT:e}"),
    ))]
    pub l1_weight: Option<f64>,

    #[arg(long, value_name = "F", allow_negative_numbers = true, help = help(
        "Target mean activation of each code unit (sparse-ae --sparsity kl)",
        across_models(|c| match sparsity(c)? { Sparsity::Kl { rho, .. } => Some(rho), _ => None }),
    ))]
    pub rho: Option<f64>,

    #[arg(long, value_name = "F", allow_negative_numbers = true, help = help(
        "Weight of the KL term: the sparsity penalty (sparse-ae) or the KL to N(0, I) (vae)",
        across_models(|c| match (&c.network, sparsity(c)) {
            (_, Some(Sparsity::Kl { beta, .. })) => Some(beta),
            (NetworkConfig::Vae(v), _) => Some(v.beta),
            _ => None,
        }),
    ))]
    pub beta: Option<f64>,

    #[arg(long, value_name = "N", help = help(
        "vae: epochs over which the KL weight rises from 0 to beta",
        across_models(|c| match &c.network { NetworkConfig::Vae(v) => Some(v.warmup_epochs), _ => None }),
    ))]
    pub warmup: Option<usize>,

    #[arg(long, value_enum, help = help("denoising-ae's corruption", across_models(|c| {
        c.noise.map(|n| if matches!(n, Noise::Gaussian { .. }) { "gaussian" } else { "masking" })
    })))]
    pub noise: Option<NoiseArg>,

    #[arg(long, value_name = "F", allow_negative_numbers = true, help = help(
        "Standard deviation of the Gaussian noise, in pixel units",
        across_models(|c| match c.noise? { Noise::Gaussian { std } => Some(std), _ => None }),
    ))]
    pub noise_std: Option<f32>,

    #[arg(long, value_name = "F", allow_negative_numbers = true,
          help = help("Fraction of pixels the masking noise sets to 0", MASKING_DROP))]
    pub drop: Option<f32>,

    /// --dataset folder: resize every image to HEIGHTxWIDTH pixels [default: keep the images'
    /// size, which must then be the same for all].
    #[arg(long, value_name = "HxW")]
    pub image_size: Option<String>,

    /// --dataset folder: 1 (grey) or 3 (colour) [default: 3 when any image has colour, else 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub channels: Option<u8>,

    /// --dataset folder without train/ and test/ subfolders: the share of images held out
    /// for testing (the same images for every seed) [default: 0.1].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub test_fraction: Option<f64>,

    /// --dataset folder: refuse the data set on a file that cannot be read or decoded
    /// [default: skip it and say so].
    #[arg(long)]
    pub strict: bool,

    /// Draw every pixel once as black or white, white with its grey value as the probability:
    /// a fixed draw, the same for every --seed (the binarised MNIST of the VAE literature, on
    /// which published log-likelihoods are measured).
    #[arg(long)]
    pub binarize: bool,

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

    /// The layers ae-kernels has ops for: ours (on flex and ndarray the convolutions, pool,
    /// loss and Adam; on wgpu the 3x3 convolution, pool, loss, fully connected layers, the
    /// VAE's code and Adam) or Burn's layers; the figures agree to float rounding.
    #[arg(long, value_enum, default_value = "ours")]
    pub kernels: KernelsArg,
}

const AFTER_HELP: &str = "Examples:
  train conv-ae --backend wgpu
  train deep-ae --hidden 256,128 --latent-dim 16 --epochs 20
  train sparse-ae --sparsity kl --rho 0.05 --beta 0.01
  train denoising-ae --arch dense --noise masking --drop 0.3
  train vae --latent-dim 2 --warmup 5 --out runs/vae2d
  train linear-ae --dataset plane3d
  train conv-ae --dataset folder --data-dir photos --image-size 64x64
  train binary-ae
  train conv-ae --resume                  (continue runs/conv-ae after a crash or Ctrl-C)
Environment: AE_DATA_DIR=DIR (DIR/<dataset>/ holds the IDX files), AE_CACHE_DIR=DIR (decoded
image folders; default: the user cache)";

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
            kernels: self.kernels,
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

/// sparse-ae's penalty in a config, if it has one.
fn sparsity(c: &RunConfig) -> Option<Sparsity> {
    match &c.network {
        NetworkConfig::Sparse(s) => Some(s.sparsity),
        _ => None,
    }
}
