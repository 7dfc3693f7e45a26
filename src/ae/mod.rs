//! `ae <command> <run folder>`: uses a trained model. Each command rebuilds the model from the
//! run folder's `config.json` and `model.bpk` on any backend, and writes pictures and data files
//! into `<run>/ae/` (or `--out`).

pub mod codes;
pub mod compress;
pub mod export;
pub mod figures;
pub mod generate;
pub mod images;
pub mod latent;
pub mod nll;
pub mod npy;
pub mod ood;
pub mod plot;
pub mod probe;
pub mod session;
pub mod stats;

use crate::backend::BackendChoice;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Use a trained autoencoder: reconstruct, encode and decode, sample, interpolate, average,
/// map the codes, draw features, and measure it as features, as a compressor and as an
/// out-of-distribution detector.
///
/// Every command takes the run folder `train` wrote (e.g. runs/conv-ae), rebuilds the model
/// from its config.json and model.bpk, and writes into <run>/ae/ unless --out says otherwise.
#[derive(Debug, Parser)]
#[command(name = "ae", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct AeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AeCommand,
}

const AFTER_HELP: &str = "Examples:
  ae reconstruct runs/conv-ae
  ae encode runs/dense-ae --split train
  ae sample runs/vae --temperature 0.8
  ae latent-map runs/vae
  ae ood runs/dense-ae --against fashion-mnist

Data comes from the same places as for train (--data-dir, $AE_DATA_DIR, ...).";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum AeCommand {
    /// Originals above their reconstructions, and the test loss on the whole split.
    Reconstruct(images::ReconstructArgs),
    /// The codes of a split, as CSV and .npy (with the labels).
    Encode(codes::EncodeArgs),
    /// Codes from a CSV or .npy file, decoded into images: make up your own thought vector.
    Decode(generate::DecodeArgs),
    /// A VAE's samples: codes drawn from N(0, T^2 I), decoded.
    Sample(generate::SampleArgs),
    /// The decodes along a straight line in code space between two images (and, below, the
    /// same blend done on the pixels).
    Interpolate(images::InterpolateArgs),
    /// The decoded mean code of each label (or of chosen images), above the mean image.
    Average(images::AverageArgs),
    /// The test codes as a scatter plot coloured by label (first two principal components when
    /// the code has more than two numbers).
    LatentMap(latent::LatentMapArgs),
    /// A 2-D VAE's decodes over a grid of latent values at Gaussian quantiles.
    Manifold(generate::ManifoldArgs),
    /// Each hidden unit's input weights as an image: the norm-bounded input that excites it
    /// most (dense and sparse models).
    Features(generate::FeaturesArgs),
    /// Test accuracy of a softmax classifier on the codes, next to the same one on pixels.
    Probe(probe::ProbeArgs),
    /// Bytes per image of the code against JPEG at the same quality and the same size.
    Compress(compress::CompressArgs),
    /// Reconstruction error as an out-of-distribution score: own test set vs another data set.
    Ood(ood::OodArgs),
    /// A VAE's test log-likelihood by importance sampling, next to its ELBO.
    Nll(nll::NllArgs),
    /// The weights as a safetensors file that the PyTorch peer modules load.
    Export(export::ExportArgs),
}

/// The arguments every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The run folder `train` wrote (holding config.json and model.bpk).
    #[arg(value_name = "RUN")]
    pub run: PathBuf,

    /// Where to compute: auto takes wgpu on a real GPU, else flex (the faster CPU backend).
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,

    /// A folder holding the data set's files (or a <dataset>/ folder with them); otherwise
    /// $AE_DATA_DIR/<dataset>/, the user cache, /usr/share/datasets/<dataset>/, or a download.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Which split of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

impl From<SplitArg> for ae_data::Split {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => ae_data::Split::Train,
            SplitArg::Test => ae_data::Split::Test,
        }
    }
}

impl SplitArg {
    /// The name as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitArg::Train => "train",
            SplitArg::Test => "test",
        }
    }
}

/// Runs one command.
pub fn run(args: &AeArgs) -> Result<()> {
    match &args.command {
        AeCommand::Reconstruct(a) => images::reconstruct(a),
        AeCommand::Encode(a) => codes::encode(a),
        AeCommand::Decode(a) => generate::decode(a),
        AeCommand::Sample(a) => generate::sample(a),
        AeCommand::Interpolate(a) => images::interpolate(a),
        AeCommand::Average(a) => images::average(a),
        AeCommand::LatentMap(a) => latent::latent_map(a),
        AeCommand::Manifold(a) => generate::manifold(a),
        AeCommand::Features(a) => generate::features(a),
        AeCommand::Probe(a) => probe::probe(a),
        AeCommand::Compress(a) => compress::compress(a),
        AeCommand::Ood(a) => ood::ood(a),
        AeCommand::Nll(a) => nll::nll(a),
        AeCommand::Export(a) => export::export(a),
    }
}
