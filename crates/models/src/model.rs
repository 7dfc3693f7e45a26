//! The one contract every autoencoder shares, and the enums that pick one at run time.

use crate::activation::Activation;
use crate::conv::{ConvAe, ConvAeConfig};
use crate::dense::{DenseAe, DenseAeConfig};
use crate::loss::ReconLoss;
use crate::sparse::{SparseAe, SparseAeConfig};
use crate::vae::{Vae, VaeConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

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
}

impl Net for DenseAe {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        DenseAe::encode(self, x)
    }
    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        DenseAe::decode_raw(self, codes, image)
    }
    fn output(&self) -> Activation {
        DenseAe::output(self)
    }
}

impl Net for ConvAe {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        ConvAe::encode(self, x)
    }
    fn decode_raw(&self, codes: Tensor<2>, _image: [usize; 3]) -> Tensor<4> {
        ConvAe::decode_raw(self, codes)
    }
}

impl Net for SparseAe {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.net().encode(x)
    }
    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        self.net().decode_raw(codes, image)
    }
    fn output(&self) -> Activation {
        self.net().output()
    }
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        SparseAe::forward_loss(self, input, target, ctx)
    }
}

impl Net for Vae {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        Vae::encode(self, x)
    }
    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        Vae::decode_raw(self, codes, image)
    }
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        Vae::forward_loss(self, input, target, ctx)
    }
}

/// The network of one autoencoder kind.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one network per process, built once; boxing would only add indirection"
)]
pub enum Network {
    /// Fully connected: shallow, deep, linear, binary.
    Dense(DenseAe),
    /// Convolutional.
    Conv(ConvAe),
    /// Fully connected with a sparsity penalty.
    Sparse(SparseAe),
    /// Variational.
    Vae(Vae),
}

impl Network {
    fn net(&self) -> &dyn Net {
        match self {
            Network::Dense(m) => m,
            Network::Conv(m) => m,
            Network::Sparse(m) => m,
            Network::Vae(m) => m,
        }
    }
}

impl Net for Network {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.net().encode(x)
    }
    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        self.net().decode_raw(codes, image)
    }
    fn output(&self) -> Activation {
        self.net().output()
    }
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        self.net().forward_loss(input, target, ctx)
    }
}

/// The configuration of a network, tagged by its kind in config files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NetworkConfig {
    /// A fully connected autoencoder.
    Dense(DenseAeConfig),
    /// The convolutional autoencoder.
    Conv(ConvAeConfig),
    /// A fully connected autoencoder with a sparsity penalty.
    Sparse(SparseAeConfig),
    /// The variational autoencoder.
    Vae(VaeConfig),
}

/// A configuration that cannot build a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model configuration: {0}")]
pub struct ConfigError(pub String);

impl NetworkConfig {
    /// Checks every size; `image` is `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        let inputs = image.iter().product();
        match self {
            NetworkConfig::Dense(c) => c.validate(inputs),
            NetworkConfig::Conv(c) => c.validate(image),
            NetworkConfig::Sparse(c) => c.validate(inputs),
            NetworkConfig::Vae(c) => c.validate(image),
        }
    }

    /// Builds the network with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> Network {
        match self {
            NetworkConfig::Dense(c) => Network::Dense(c.init(device)),
            NetworkConfig::Conv(c) => Network::Conv(c.init(device)),
            NetworkConfig::Sparse(c) => Network::Sparse(c.init(device)),
            NetworkConfig::Vae(c) => Network::Vae(c.init(device)),
        }
    }

    /// The fully connected part, where there is one.
    pub fn dense(&self) -> Option<&DenseAeConfig> {
        match self {
            NetworkConfig::Dense(c) => Some(c),
            NetworkConfig::Sparse(c) => Some(&c.dense),
            _ => None,
        }
    }

    /// Mutable access to the fully connected part, where there is one.
    pub fn dense_mut(&mut self) -> Option<&mut DenseAeConfig> {
        match self {
            NetworkConfig::Dense(c) => Some(c),
            NetworkConfig::Sparse(c) => Some(&mut c.dense),
            _ => None,
        }
    }

    /// Numbers in one code.
    pub fn code_dim(&self) -> usize {
        match self {
            NetworkConfig::Dense(c) => c.latent_dim,
            NetworkConfig::Sparse(c) => c.dense.latent_dim,
            NetworkConfig::Conv(c) => c.code_dim(),
            NetworkConfig::Vae(c) => c.latent_dim,
        }
    }

    /// The activation of the output layer.
    pub fn output(&self) -> Activation {
        self.dense().map_or(Activation::Sigmoid, |d| d.output)
    }

    /// The names of the figures the loss reports beside its total.
    pub fn term_names(&self) -> Vec<&'static str> {
        match self {
            NetworkConfig::Dense(_) | NetworkConfig::Conv(_) => vec![],
            NetworkConfig::Sparse(_) => vec![
                LossTerms::RECONSTRUCTION,
                SparseAe::PENALTY,
                SparseAe::CODE_MEAN,
            ],
            NetworkConfig::Vae(_) => vec![LossTerms::RECONSTRUCTION, Vae::KL],
        }
    }

    /// Whether the loss is summed over each sample's elements (nats per image: the VAE) rather
    /// than averaged over them (per pixel).
    pub fn loss_per_sample(&self) -> bool {
        matches!(self, NetworkConfig::Vae(_))
    }

    /// Epochs of KL warm-up (VAE), else 0.
    pub fn warmup_epochs(&self) -> usize {
        match self {
            NetworkConfig::Vae(c) => c.warmup_epochs,
            _ => 0,
        }
    }
}

/// An autoencoder ready to train or use: a network, its loss and the sample shape it works on.
#[derive(Module, Debug)]
pub struct Autoencoder {
    net: Network,
    #[module(skip)]
    loss: ReconLoss,
    #[module(skip)]
    image: [usize; 3],
}

impl Autoencoder {
    /// Validates `config` and builds the model with fresh weights on `device`.
    pub fn new(
        config: &NetworkConfig,
        loss: ReconLoss,
        image: [usize; 3],
        device: &Device,
    ) -> Result<Self, ConfigError> {
        config.validate(image)?;
        if loss == ReconLoss::Bce && config.output() != Activation::Sigmoid {
            return Err(ConfigError(
                "binary cross-entropy needs a sigmoid output; a linear output trains with \
                 --loss mse"
                    .into(),
            ));
        }
        Ok(Autoencoder {
            net: config.init(device),
            loss,
            image,
        })
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// `[channels, height, width]` of the samples.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image
    }

    /// `[batch, c, h, w]` samples -> `[batch, code_dim]` codes (the VAE's posterior means).
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.net.encode(x)
    }

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` reconstructions.
    pub fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.net
            .output()
            .apply(self.net.decode_raw(codes, self.image))
    }

    /// Samples -> their reconstructions.
    pub fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }

    /// The loss of reconstructing `target` from `input` (the same samples, unless denoising);
    /// `anneal` multiplies the regulariser (1 outside a warm-up). The VAE draws its noise on the
    /// device.
    pub fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, anneal: f32) -> LossTerms {
        self.forward_loss_with(input, target, anneal, None)
    }

    /// [`Autoencoder::forward_loss`] with the VAE's reparameterisation noise given (`[batch,
    /// latent]`, N(0, 1)), or drawn on the device when `None`.
    pub fn forward_loss_with(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        anneal: f32,
        noise: Option<Tensor<2>>,
    ) -> LossTerms {
        let ctx = LossContext {
            recon: self.loss,
            image: self.image,
            anneal,
            noise,
        };
        self.net.forward_loss(input, target, ctx)
    }
}
