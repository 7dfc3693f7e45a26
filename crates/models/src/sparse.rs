//! The sparse autoencoder: a dense autoencoder whose code is penalised towards sparsity, by
//! composition (it holds a [`DenseAeConfig`] and a penalty, nothing copied).
//!
//! - `l1`: `weight * sum_j |h_j|`, averaged over the batch (Keras' activity regulariser);
//! - `kl`: `beta * sum_j KL(rho || rho_hat_j)`, `rho_hat_j` the mean activation of unit `j`
//!   over the batch (the lecture notes' sparsity cost; needs a sigmoid code).

use crate::activation::Activation;
use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::dense::{DenseAe, DenseAeConfig};
use crate::footprint::Footprint;
use crate::loss::{bernoulli_kl_sum, l1_activity};
use crate::torch::{ExportError, TorchTensor};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The sparsity penalty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Sparsity {
    /// L1 on the code activations.
    L1 {
        /// Weight of the penalty (Keras' `l1(weight)`).
        weight: f64,
    },
    /// KL divergence of each unit's mean activation from the target `rho`.
    Kl {
        /// Target mean activation of every code unit, in (0, 1).
        rho: f64,
        /// Weight of the penalty.
        beta: f64,
    },
}

/// Configuration of the sparse autoencoder.
#[derive(Config, Debug)]
pub struct SparseAeConfig {
    /// The network that is penalised.
    pub dense: DenseAeConfig,
    /// The penalty on its code.
    pub sparsity: Sparsity,
}

impl SparseAeConfig {
    /// Checks the network and the penalty.
    pub fn validate(&self, inputs: usize) -> Result<(), ConfigError> {
        self.dense.validate(inputs)?;
        let err = |m: String| Err(ConfigError(m));
        match self.sparsity {
            Sparsity::L1 { weight } if !(weight.is_finite() && weight >= 0.0) => err(format!(
                "the L1 weight must be a non-negative number, not {weight}"
            )),
            Sparsity::Kl { rho, .. } if !(rho > 0.0 && rho < 1.0) => {
                err(format!("rho must be strictly between 0 and 1, not {rho}"))
            }
            Sparsity::Kl { beta, .. } if !(beta.is_finite() && beta >= 0.0) => {
                err(format!("beta must be a non-negative number, not {beta}"))
            }
            Sparsity::Kl { .. } if self.dense.code_activation != Activation::Sigmoid => err(
                "the KL sparsity penalty reads code activations as firing rates in (0, 1): \
                 it needs a sigmoid code"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> SparseAe {
        SparseAe {
            net: self.dense.init(device),
            sparsity: self.sparsity,
        }
    }
}

/// A dense autoencoder with a sparsity penalty on its code.
#[derive(Module, Debug)]
pub struct SparseAe {
    net: DenseAe,
    #[module(skip)]
    sparsity: Sparsity,
}

impl SparseAe {
    /// The penalised network.
    pub fn net(&self) -> &DenseAe {
        &self.net
    }

    /// The name of the penalty term.
    pub const PENALTY: &'static str = "Sparsity";
    /// The name of the mean code activation.
    pub const CODE_MEAN: &'static str = "Code mean";
    /// The figures its loss reports, in order.
    pub const TERMS: [&'static str; 3] =
        [LossTerms::RECONSTRUCTION, Self::PENALTY, Self::CODE_MEAN];
}

impl NetConfig for SparseAeConfig {
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.validate(image.iter().product())
    }

    fn code_size(&self) -> usize {
        self.dense.latent_dim
    }

    fn footprint(&self, image: [usize; 3]) -> Footprint {
        self.dense.footprint(image)
    }

    fn output_activation(&self) -> Activation {
        self.dense.output
    }

    fn terms(&self) -> Vec<&'static str> {
        SparseAe::TERMS.to_vec()
    }
}

impl Net for SparseAe {
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.net.encode(x)
    }

    fn decode_raw(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        self.net.decode_raw(codes, image)
    }

    fn output(&self) -> Activation {
        self.net.output()
    }

    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        self.net.torch_tensors()
    }

    /// Reconstruction, the penalty, and (not part of the loss) the mean code activation.
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let codes = self.net.encode(input);
        let recon = self
            .net
            .recon_mean(codes.clone(), target, ctx.recon, ctx.image);
        let penalty = match self.sparsity {
            Sparsity::L1 { weight } => l1_activity(codes.clone()).mul_scalar(weight),
            Sparsity::Kl { rho, beta } => {
                bernoulli_kl_sum(rho as f32, codes.clone()).mul_scalar(beta)
            }
        };
        let code_mean = codes.detach().mean();
        let total = recon.clone() + penalty.clone();
        LossTerms::named(total, Self::TERMS, [recon, penalty, code_mean])
    }
}
