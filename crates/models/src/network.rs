//! The variants on top of the contract: [`Network`], the enum that picks a network at run time
//! (Burn's `#[derive(Module)]` works on enums; the Learner wants one concrete type), and
//! [`NetworkConfig`], the tagged config that builds one. Each forwards to the variant's own
//! implementation of the contract; a new variant adds an arm here.

use crate::activation::Activation;
use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::conv::{ConvAe, ConvAeConfig};
use crate::conv_wide::{ConvWideAe, ConvWideConfig};
use crate::dense::{DenseAe, DenseAeConfig};
use crate::footprint::Footprint;
use crate::sparse::{SparseAe, SparseAeConfig};
use crate::torch::{ExportError, TorchTensor};
use crate::vae::{Vae, VaeConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

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
    /// Wide convolutional (transposed convolutions, a code larger than the image).
    ConvWide(ConvWideAe),
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
            Network::ConvWide(m) => m,
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
    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        self.net().torch_tensors()
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
    /// The wide convolutional autoencoder (keras.io's denoising net).
    ConvWide(ConvWideConfig),
    /// A fully connected autoencoder with a sparsity penalty.
    Sparse(SparseAeConfig),
    /// The variational autoencoder.
    Vae(VaeConfig),
}

impl NetworkConfig {
    /// The variant's config, through the contract they all implement.
    fn variant(&self) -> &dyn NetConfig {
        match self {
            NetworkConfig::Dense(c) => c,
            NetworkConfig::Conv(c) => c,
            NetworkConfig::ConvWide(c) => c,
            NetworkConfig::Sparse(c) => c,
            NetworkConfig::Vae(c) => c,
        }
    }

    /// What the network holds for samples of `image`, counted from the config alone.
    pub fn footprint(&self, image: [usize; 3]) -> Footprint {
        self.variant().footprint(image)
    }

    /// Checks every size; `image` is `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.variant().check(image)
    }

    /// Builds the network with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> Network {
        match self {
            NetworkConfig::Dense(c) => Network::Dense(c.init(device)),
            NetworkConfig::Conv(c) => Network::Conv(c.init(device)),
            NetworkConfig::ConvWide(c) => Network::ConvWide(c.init(device)),
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
        self.variant().code_size()
    }

    /// The activation of the output layer.
    pub fn output(&self) -> Activation {
        self.variant().output_activation()
    }

    /// The names of the figures the loss reports beside its total.
    pub fn term_names(&self) -> Vec<&'static str> {
        self.variant().terms()
    }

    /// Whether the loss is summed over each sample's elements (nats per image: the VAE) rather
    /// than averaged over them (per pixel).
    pub fn loss_per_sample(&self) -> bool {
        self.variant().per_sample()
    }

    /// Epochs of KL warm-up (VAE), else 0.
    pub fn warmup_epochs(&self) -> usize {
        self.variant().warmup()
    }
}
