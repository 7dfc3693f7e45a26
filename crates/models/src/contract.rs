//! The contract every autoencoder shares: what a network does ([`Net`]), what its config
//! tells ([`NetConfig`]), what a loss needs ([`LossContext`]) and gives ([`LossTerms`]), and the
//! error of a config that cannot build one. A leaf: it knows no variant.

use crate::activation::Activation;
use crate::footprint::Footprint;
use crate::loss::ReconLoss;
use crate::torch::{ExportError, TorchTensor};
use burn::prelude::*;

/// What a loss needs besides the network: the reconstruction loss, the sample shape, the
/// factor on the regulariser for this batch (a warm-up; 1 otherwise), and the VAE's noise.
#[derive(Debug, Clone)]
pub struct LossContext {
    /// The reconstruction loss.
    pub recon: ReconLoss,
    /// `[channels, height, width]` of a sample.
    pub image: [usize; 3],
    /// Multiplies the regulariser (the VAE's KL warm-up), in [0, 1].
    pub anneal: f32,
    /// The VAE's reparameterisation noise, `[batch, latent]` draws of N(0, 1); `None`: drawn on
    /// the device. Given, it makes the loss a function of the weights and the batch alone (the
    /// same on every backend and for every batching). Other models ignore it.
    pub noise: Option<Tensor<2>>,
}

/// What every autoencoder network does.
pub trait Net {
    /// `[batch, c, h, w]` samples -> `[batch, code_dim]` codes.
    fn encode(&self, x: Tensor<4>) -> Tensor<2>;

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` raw outputs (before [`Net::output`]).
    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4>;

    /// The weights as PyTorch's peer module for this network holds them
    /// (`scripts/peers/torch_ae.py`); an error when there is none.
    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        Err(ExportError::NoPeer("this network".into()))
    }

    /// The activation that turns raw outputs into reconstructions.
    fn output(&self) -> Activation {
        Activation::Sigmoid
    }

    /// The loss of reconstructing `target` from `input`, with its terms itemised. Plain
    /// autoencoders have one term, the per-element mean reconstruction loss.
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let raw = self.decode_raw(self.encode(input), ctx.image);
        LossTerms::reconstruction_only(ctx.recon.mean(raw, target, self.output()))
    }
}

/// A total loss and the named figures shown beside it, each a `[1]` tensor: the terms that
/// make up the total (`"Reconstruction"` first), then any monitored quantity.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// What the optimiser minimises.
    pub total: Tensor<1>,
    /// Named figures, shown on the dashboard and in `metrics.csv`.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

impl LossTerms {
    /// The name of the reconstruction term.
    pub const RECONSTRUCTION: &'static str = "Reconstruction";

    /// A loss that is only the reconstruction.
    pub fn reconstruction_only(recon: Tensor<1>) -> Self {
        LossTerms {
            total: recon.clone(),
            terms: vec![(Self::RECONSTRUCTION, recon)],
        }
    }

    /// A total and its figures, named by `names` in order (a variant's `TERMS`, the same list
    /// its config reports to the dashboard).
    pub fn named<const N: usize>(
        total: Tensor<1>,
        names: [&'static str; N],
        figures: [Tensor<1>; N],
    ) -> Self {
        LossTerms {
            total,
            terms: names.into_iter().zip(figures).collect(),
        }
    }
}

/// What a network's config tells before the network exists: its checks, its code size and the
/// figures its loss reports. Each variant implements it beside its config.
pub trait NetConfig {
    /// Checks every size against `image`, `[channels, height, width]` of the data.
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError>;

    /// Numbers in one code.
    fn code_size(&self) -> usize;

    /// What the network holds for samples of `image` (`[channels, height, width]`), counted
    /// from the config alone.
    fn footprint(&self, image: [usize; 3]) -> Footprint;

    /// The activation of the output layer.
    fn output_activation(&self) -> Activation {
        Activation::Sigmoid
    }

    /// The names of the figures the loss reports beside its total (none: the total is the
    /// reconstruction).
    fn terms(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Whether the loss is summed over each sample's elements (nats per image) rather than
    /// averaged over them (per pixel).
    fn per_sample(&self) -> bool {
        false
    }

    /// Epochs over which the regulariser's weight rises from 0 (a warm-up), else 0.
    fn warmup(&self) -> usize {
        0
    }
}

/// A configuration that cannot build a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model configuration: {0}")]
pub struct ConfigError(pub String);
