//! `ae-models`: every autoencoder as a Burn module, with its config and its losses.
//!
//! One contract (`contract.rs`: [`Net`], encode, decode, a loss with itemised terms, and
//! [`NetConfig`], what a config tells before the network exists), implemented by each variant
//! beside its struct (dense.rs, conv.rs, sparse.rs, vae.rs); one enum on top to choose a network
//! at run time (`network.rs`: [`Network`], [`NetworkConfig`]); and [`Autoencoder`], the trainable
//! whole that the Learner drives through [`TrainStep`](burn::train::TrainStep). Variants are built by composition: the
//! sparse autoencoder holds a dense one and a penalty; the convolutional VAE reuses the conv
//! autoencoder's blocks. [`pca`] is the closed-form yardstick of the linear autoencoder.
//! Nothing here knows about files, the command line or the dashboard.

pub mod activation;
pub mod autoencoder;
pub mod contract;
pub mod conv;
mod conv_layers;
pub mod conv_wide;
pub mod dense;
pub mod footprint;
pub mod layout;
pub mod linalg;
pub mod loss;
pub mod mlp;
pub mod network;
pub mod pca;
pub mod sparse;
pub mod step;
pub mod torch;
pub mod vae;

pub use activation::Activation;
pub use autoencoder::Autoencoder;
pub use contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
pub use conv::ConvAeConfig;
pub use conv_wide::{ConvWideConfig, WideInit};
pub use dense::DenseAeConfig;
pub use footprint::Footprint;
pub use loss::ReconLoss;
pub use network::{Network, NetworkConfig};
pub use sparse::{SparseAeConfig, Sparsity};
pub use step::{AeBatch, AeOutput};
pub use vae::{VaeArch, VaeConfig};
