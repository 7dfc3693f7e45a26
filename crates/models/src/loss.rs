//! Every loss in one place: the reconstruction losses (binary cross-entropy from logits,
//! numerically stable, and mean squared error), the Gaussian KL of the VAE, and the two sparsity
//! penalties (L1 on code activations, KL of Bernoulli means). Each is unit-tested against values
//! computed by hand.

use crate::activation::Activation;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which reconstruction loss a model trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReconLoss {
    /// Binary cross-entropy, the pixels read as Bernoulli probabilities (Keras' choice for MNIST).
    #[default]
    Bce,
    /// Squared error of the output.
    Mse,
}

/// Probabilities are kept this far from 0 and 1 where a log of them is taken.
const EPS: f32 = 1e-7;

impl ReconLoss {
    /// The name used in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconLoss::Bce => "bce",
            ReconLoss::Mse => "mse",
        }
    }

    /// Element-wise loss of raw network outputs `raw` (before `output` is applied) against
    /// `target`. BCE on a sigmoid output works on the logits directly (exact for any logit); BCE
    /// on any other output clamps it into (0, 1) first (configs refuse that pairing anyway).
    pub fn elementwise<const D: usize>(
        self,
        raw: Tensor<D>,
        target: Tensor<D>,
        output: Activation,
    ) -> Tensor<D> {
        match (self, output) {
            (ReconLoss::Bce, Activation::Sigmoid) => bce_with_logits(raw, target),
            (ReconLoss::Bce, other) => bce(other.apply(raw), target),
            (ReconLoss::Mse, act) => squared_error(act.apply(raw), target),
        }
    }

    /// Whether BCE from logits runs as ae-kernels' fused loss on this pairing and device.
    fn fused<const D: usize>(self, raw: &Tensor<D>, output: Activation) -> bool {
        self == ReconLoss::Bce
            && output == Activation::Sigmoid
            && ae_kernels::Op::Bce.used_on(&raw.device())
    }

    /// Mean over every element of the batch, as a `[1]` tensor (the per-pixel figure).
    pub fn mean<const D: usize>(
        self,
        raw: Tensor<D>,
        target: Tensor<D>,
        output: Activation,
    ) -> Tensor<1> {
        if self.fused(&raw, output) {
            let (rows, d) = as_rows(&raw);
            return ae_kernels::bce_with_logits_mean(
                raw.reshape([rows, d]),
                target.reshape([rows, d]),
            );
        }
        self.elementwise(raw, target, output).mean()
    }

    /// Sum over each sample's elements: `[batch, c, h, w]` -> `[batch]` (the per-image figure,
    /// in nats for BCE).
    pub fn per_sample_sum(
        self,
        raw: Tensor<4>,
        target: Tensor<4>,
        output: Activation,
    ) -> Tensor<1> {
        if self.fused(&raw, output) {
            return row_sums(raw, target);
        }
        let batch = raw.dims()[0];
        self.elementwise(raw, target, output)
            .reshape([batch as i64, -1])
            .sum_dim(1)
            .reshape([batch])
    }
}

/// BCE from logits summed over each sample (ae-kernels' fused loss): `[batch, ...]` ->
/// `[batch]`.
fn row_sums<const D: usize>(raw: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    let (rows, d) = as_rows(&raw);
    ae_kernels::bce_with_logits_rows(raw.reshape([rows, d]), target.reshape([rows, d]))
}

/// `[batch, ...]` seen as rows: `(batch, elements per sample)`.
fn as_rows<const D: usize>(raw: &Tensor<D>) -> (usize, usize) {
    let rows = raw.dims().first().copied().unwrap_or(1).max(1);
    (rows, raw.shape().num_elements() / rows)
}

/// Element-wise binary cross-entropy of `sigmoid(logits)` against `target`:
/// `max(z, 0) - z * t + ln(1 + exp(-|z|))`, exact for any logit, no clamping needed, with the
/// gradient `sigmoid(z) - t` at every logit, 0 included ([`ae_kernels::bce::elementwise`]).
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    ae_kernels::bce::elementwise(logits, target)
}

/// Element-wise binary cross-entropy of probabilities `p` (clamped into (0, 1)) against `target`.
pub fn bce<const D: usize>(p: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let p = p.clamp(EPS, 1.0 - EPS);
    let one_minus_t = target.clone().neg().add_scalar(1.0);
    -(target * p.clone().log() + one_minus_t * p.neg().add_scalar(1.0).log())
}

/// Element-wise squared error.
pub fn squared_error<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    (prediction - target).square()
}

/// `KL(N(mu, exp(logvar)) || N(0, I))` of each row, in nats: `[batch, k]` -> `[batch]`.
/// `-1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))` (Kingma and Welling, appendix B).
pub fn gaussian_kl(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let batch = mu.dims()[0];
    let inner = logvar.clone().add_scalar(1.0) - mu.square() - logvar.exp();
    inner.sum_dim(1).reshape([batch]).mul_scalar(-0.5)
}

/// The sparsity penalty of the lecture notes: `sum_j KL(rho || rho_hat_j)` for Bernoulli means,
/// `rho_hat_j` being the mean activation of code unit `j` over the batch (`codes` in (0, 1),
/// `[batch, k]`). Returns `[1]`.
pub fn bernoulli_kl_sum(rho: f32, codes: Tensor<2>) -> Tensor<1> {
    let rho_hat = codes.mean_dim(0).clamp(EPS, 1.0 - EPS); // [1, k]
    let one_minus = rho_hat.clone().neg().add_scalar(1.0);
    let kl = rho_hat.log().mul_scalar(-rho).add_scalar(rho * rho.ln())
        + one_minus
            .log()
            .mul_scalar(-(1.0 - rho))
            .add_scalar((1.0 - rho) * (1.0 - rho).ln());
    kl.sum()
}

/// The L1 activity penalty (Keras' `activity_regularizer=l1`): the sum of `|code|` over units,
/// averaged over the batch. `[batch, k]` -> `[1]`.
pub fn l1_activity(codes: Tensor<2>) -> Tensor<1> {
    let batch = codes.dims()[0];
    codes.abs().sum().div_scalar(batch.max(1) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::sigmoid;

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-5, "{a} != {b}");
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec().unwrap()
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
        let want = [std::f32::consts::LN_2, 0.126928, 0.798587, 40.0];
        for (got, want) in values(bce_with_logits(z.clone(), t.clone()))
            .iter()
            .zip(want)
        {
            close(*got, want);
        }
        let mean: f32 = ReconLoss::Bce
            .mean(z.clone(), t.clone(), Activation::Sigmoid)
            .into_scalar();
        close(mean, want.iter().sum::<f32>() / 4.0);
        // The same from probabilities, for the finite logits.
        let p = sigmoid(z.narrow(0, 0, 3));
        for (got, want) in values(bce(p, t.narrow(0, 0, 3))).iter().zip(want) {
            assert!((got - want).abs() < 1e-4, "{got} != {want}");
        }
    }

    #[test]
    fn mse_matches_values_computed_by_hand() {
        let dev = Device::flex();
        // sigmoid(0) = 0.5 against 1 -> 0.25; sigmoid(ln 3) = 0.75 against 0.25 -> 0.25.
        let z = Tensor::<1>::from_floats([0.0, 3f32.ln()], &dev);
        let t = Tensor::<1>::from_floats([1.0, 0.25], &dev);
        let mean: f32 = ReconLoss::Mse
            .mean(z.clone(), t.clone(), Activation::Sigmoid)
            .into_scalar();
        close(mean, 0.25);
        // A linear output is compared as it is: (0 - 1)^2 and (ln 3 - 0.25)^2 = 0.720143.
        let mean: f32 = ReconLoss::Mse
            .mean(z, t, Activation::Identity)
            .into_scalar();
        close(mean, (1.0 + 0.720143) / 2.0);
    }

    #[test]
    fn per_sample_sums_add_each_image_up() {
        let dev = Device::flex();
        // Two 1x1x2 "images" of logits 0: BCE ln 2 per pixel, 2 ln 2 per image.
        let z = Tensor::<4>::zeros([2, 1, 1, 2], &dev);
        let t = Tensor::<4>::ones([2, 1, 1, 2], &dev);
        let sums = values(ReconLoss::Bce.per_sample_sum(z, t, Activation::Sigmoid));
        assert_eq!(sums.len(), 2);
        for s in sums {
            close(s, 2.0 * std::f32::consts::LN_2);
        }
    }

    #[test]
    fn gaussian_kl_matches_values_computed_by_hand() {
        let dev = Device::flex();
        // Row 1: N(0, 1) -> 0. Row 2: mu = (1, 2), logvar = (0, ln 4):
        //   -1/2 [(1 + 0 - 1 - 1) + (1 + ln 4 - 4 - 4)] = -1/2 [-1 - 7 + 1.386294] = 3.306853.
        let mu = Tensor::<2>::from_floats([[0.0, 0.0], [1.0, 2.0]], &dev);
        let logvar = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 4f32.ln()]], &dev);
        let kl = values(gaussian_kl(mu, logvar));
        close(kl[0], 0.0);
        close(kl[1], 3.306853);
    }

    #[test]
    fn sparsity_penalties_match_values_computed_by_hand() {
        let dev = Device::flex();
        // Unit 1 averages 0.05 over the batch (KL 0); unit 2 averages 0.5:
        //   0.05 ln(0.05/0.5) + 0.95 ln(0.95/0.5) = -0.115129 + 0.609757 = 0.494628.
        let codes = Tensor::<2>::from_floats([[0.0, 0.2], [0.1, 0.8]], &dev);
        let kl: f32 = bernoulli_kl_sum(0.05, codes.clone()).into_scalar();
        close(kl, 0.494628);
        // L1: (0 + 0.2 + 0.1 + 0.8) / 2 images.
        let l1: f32 = l1_activity(codes).into_scalar();
        close(l1, 0.55);
    }
}
