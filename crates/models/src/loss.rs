//! Reconstruction losses, in one place: binary cross-entropy (from logits, numerically stable)
//! and mean squared error. Each returns the mean over every pixel of the batch as a `[1]` tensor.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

/// Which reconstruction loss a model trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReconLoss {
    /// Binary cross-entropy, the pixels read as Bernoulli probabilities (Keras' choice for MNIST).
    #[default]
    Bce,
    /// Mean squared error of the sigmoid output.
    Mse,
}

impl ReconLoss {
    /// The name used in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconLoss::Bce => "bce",
            ReconLoss::Mse => "mse",
        }
    }

    /// Per-pixel mean loss of `logits` (before the sigmoid) against `target` in [0, 1].
    pub fn mean<const D: usize>(self, logits: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
        match self {
            ReconLoss::Bce => bce_with_logits(logits, target).mean(),
            ReconLoss::Mse => mse(sigmoid(logits), target).mean(),
        }
    }
}

/// Element-wise binary cross-entropy of `sigmoid(logits)` against `target`:
/// `max(z, 0) - z * t + ln(1 + exp(-|z|))`, exact for any logit, no clamping needed.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let softplus_neg_abs = logits.clone().abs().neg().exp().log1p();
    relu(logits.clone()) - logits * target + softplus_neg_abs
}

/// Element-wise squared error.
pub fn mse<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let diff = prediction - target;
    diff.clone() * diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-5, "{a} != {b}");
    }

    #[test]
    fn bce_matches_values_computed_by_hand() {
        let dev = Device::flex();
        // p = sigmoid(0) = 0.5: -ln 0.5 = 0.693147 for any target.
        // z = 2, t = 1: -ln(sigmoid(2)) = ln(1 + e^-2) = 0.126928.
        // z = -3, t = 0.25: -(0.25 ln s(-3) + 0.75 ln(1 - s(-3))) = 0.25*3.048587 + 0.75*0.048587
        //   = 0.798587.
        // z = 40, t = 0: ln(1 + e^40) = 40 (no overflow).
        let z = Tensor::<1>::from_floats([0.0, 2.0, -3.0, 40.0], &dev);
        let t = Tensor::<1>::from_floats([1.0, 1.0, 0.25, 0.0], &dev);
        let v: Vec<f32> = bce_with_logits(z.clone(), t.clone())
            .into_data()
            .to_vec()
            .unwrap();
        for (got, want) in v.iter().zip([0.693147, 0.126928, 0.798587, 40.0]) {
            close(*got, want);
        }
        let mean: f32 = ReconLoss::Bce.mean(z, t).into_scalar();
        close(mean, (0.693147 + 0.126928 + 0.798587 + 40.0) / 4.0);
    }

    #[test]
    fn mse_matches_values_computed_by_hand() {
        let dev = Device::flex();
        // sigmoid(0) = 0.5 against 1 -> 0.25; sigmoid(ln 3) = 0.75 against 0.25 -> 0.25.
        let z = Tensor::<1>::from_floats([0.0, 3f32.ln()], &dev);
        let t = Tensor::<1>::from_floats([1.0, 0.25], &dev);
        let mean: f32 = ReconLoss::Mse.mean(z, t).into_scalar();
        close(mean, 0.25);
    }
}
