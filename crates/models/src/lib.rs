//! `ae-models`: every autoencoder as a Burn module, with its config and its losses.
//!
//! One contract ([`Net`]: encode, decode, a loss with itemised terms), one enum to choose a
//! network at run time ([`Network`]), and [`Autoencoder`], the trainable whole that the Learner
//! drives through [`TrainStep`](burn::train::TrainStep). Nothing here knows about files, the
//! command line or the dashboard.

pub mod activation;
pub mod conv;
pub mod dense;
pub mod loss;
pub mod model;
pub mod step;

pub use activation::Activation;
pub use conv::ConvAeConfig;
pub use dense::DenseAeConfig;
pub use loss::ReconLoss;
pub use model::{Autoencoder, ConfigError, LossTerms, Net, Network, NetworkConfig};
pub use step::{AeBatch, AeOutput};
