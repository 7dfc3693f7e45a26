//! Binary cross-entropy of `sigmoid(z)` against targets `t`, from the logits, summed over each
//! sample: `max(z, 0) - z t + ln(1 + exp(-|z|))`, exact for any logit. Burn's element-wise
//! version calls `expf` and `log1pf` one element at a time (38% of a dense-ae step); here both
//! are short polynomials the compiler vectorises, accurate to a few units in the last place.

use crate::simd::{Isa, dispatch};
use burn::prelude::*;
use rayon::prelude::*;

/// The reference: the same loss from Burn's tensor operations, summed per sample.
pub fn reference(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let [b, _] = z.dims();
    elementwise(z, t).sum_dim(1).reshape([b])
}

/// The reference for the mean over every element: the same loss, summed and divided by
/// `rows * d`.
pub fn mean_reference(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    let n = z.shape().num_elements().max(1);
    elementwise(z, t).sum().div_scalar(n as f32)
}

/// The loss of each element from Burn's tensor operations: `z (1 - t) - ln sigmoid(z)`, which
/// is `max(z, 0) - z t + ln(1 + exp(-|z|))`, exact for any logit. Written with Burn's
/// `log_sigmoid`, whose gradient is `1 - sigmoid(z)` everywhere: the form with `max` and `|z|`
/// has a kink in each at `z = 0`, and the subgradients autodiff takes there (0 for both) give
/// `-t` instead of `1/2 - t` where a logit is exactly 0 (as a layer's output is where its
/// inputs are all zero and its bias is 0).
pub fn elementwise<const D: usize>(z: Tensor<D>, t: Tensor<D>) -> Tensor<D> {
    z.clone() * t.neg().add_scalar(1.0) - burn::tensor::activation::log_sigmoid(z)
}

/// `exp(-a)` for `a >= 0` (0 beyond 87): `2^n e^r` with `r` in `[-ln2/2, ln2/2]`.
///
/// Every step is plain arithmetic on floats and their bits, so the compiler vectorises it
/// whole: `n` is rounded by adding and subtracting `1.5 * 2^23`, and `2^n` is built from the
/// bits of that sum. (Rounding with `round()` and building `2^n` from `n as i32` compiled to a
/// scalar conversion per element, with the checks `as` makes for NaN and overflow.)
#[inline(always)]
pub fn exp_neg(a: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Added to a float of magnitude below 2^22, rounds it to an integer (to nearest, ties to
    // even) held in the low bits of the sum's representation.
    const SHIFT: f32 = 12_582_912.0;
    let x = (-a).max(-87.0);
    let shifted = x * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // e^r, Taylor to r^7: |r| <= 0.35, error below 2^-24.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // `shifted`'s bits are SHIFT's plus n, an integer in [-126, 0] (x >= -87), so the biased
    // exponent n + 127 is in [1, 127]: 2^n is that, shifted into the exponent field.
    let biased = shifted
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(127);
    let scale = f32::from_bits(biased << 23);
    if a > 87.0 { 0.0 } else { p * scale }
}

/// `ln(1 + e)` for `e` in `[0, 1]`: `2 atanh(s)` with `s = e / (2 + e)` in `[0, 1/3]`.
#[inline(always)]
pub fn log1p_unit(e: f32) -> f32 {
    let s = e / (2.0 + e);
    let s2 = s * s;
    let series = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0))))));
    2.0 * s * series
}

/// The loss of one element.
#[inline(always)]
fn loss(z: f32, t: f32) -> f32 {
    loss_from(z, t, exp_neg(z.abs()))
}

/// The loss of one element from `e = exp(-|z|)`.
#[inline(always)]
fn loss_from(z: f32, t: f32, e: f32) -> f32 {
    z.max(0.0) - z * t + log1p_unit(e)
}

/// `sigmoid(z)`.
#[inline(always)]
fn sigmoid(z: f32) -> f32 {
    sigmoid_from(z, exp_neg(z.abs()))
}

/// `sigmoid(z)` from `e = exp(-|z|)`.
#[inline(always)]
fn sigmoid_from(z: f32, e: f32) -> f32 {
    let r = 1.0 / (1.0 + e);
    if z >= 0.0 { r } else { e * r }
}

/// The loss summed over one sample, in sixteen lanes of partial sums (vectorised, with
/// little rounding).
#[inline(always)]
fn row_loss_body(zr: &[f32], tr: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (zc, tc) = (zr.chunks_exact(16), tr.chunks_exact(16));
    let tail: f32 = zc
        .remainder()
        .iter()
        .zip(tc.remainder())
        .map(|(&a, &b)| loss(a, b))
        .sum();
    for (a, b) in zc.zip(tc) {
        for k in 0..16 {
            acc[k] += loss(a[k], b[k]);
        }
    }
    acc.iter().map(|&v| f64::from(v)).sum::<f64>() as f32 + tail
}

dispatch!(fn row_loss(zr: &[f32], tr: &[f32]) -> f32 => row_loss_body);

/// [`row_loss_body`], and `sigmoid(z) - t` of each element into `kept` (the logits' gradient
/// before its output gradient), from the same `exp(-|z|)`: the same sum, bit for bit.
#[inline(always)]
fn row_loss_keep_body(zr: &[f32], tr: &[f32], kept: &mut [f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (zc, tc) = (zr.chunks_exact(16), tr.chunks_exact(16));
    let (zt, tt) = (zc.remainder(), tc.remainder());
    let mut kc = kept.chunks_exact_mut(16);
    for ((a, b), k) in zc.zip(tc).zip(&mut kc) {
        for i in 0..16 {
            let (l, s) = loss_and_sigmoid(a[i], b[i]);
            acc[i] += l;
            k[i] = s - b[i];
        }
    }
    let mut tail = 0.0f32;
    for ((&a, &b), k) in zt.iter().zip(tt).zip(kc.into_remainder()) {
        let (l, s) = loss_and_sigmoid(a, b);
        tail += l;
        *k = s - b;
    }
    acc.iter().map(|&v| f64::from(v)).sum::<f64>() as f32 + tail
}

dispatch!(fn row_loss_keep(zr: &[f32], tr: &[f32], kept: &mut [f32]) -> f32 => row_loss_keep_body);

/// [`loss`] and [`sigmoid`] of one element, sharing `exp(-|z|)`.
#[inline(always)]
fn loss_and_sigmoid(z: f32, t: f32) -> (f32, f32) {
    let e = exp_neg(z.abs());
    (loss_from(z, t, e), sigmoid_from(z, e))
}

/// `out = (sigmoid(z) - t) g` over one sample.
#[inline(always)]
fn row_grad_body(out: &mut [f32], zr: &[f32], tr: &[f32], g: f32) {
    for ((o, &a), &b) in out.iter_mut().zip(zr).zip(tr) {
        *o = (sigmoid(a) - b) * g;
    }
}

dispatch!(fn row_grad(out: &mut [f32], zr: &[f32], tr: &[f32], g: f32) => row_grad_body);

/// Per-sample sums of the loss: `z` and `t` hold `rows` samples of `d` numbers.
pub fn forward(z: &[f32], t: &[f32], d: usize) -> Vec<f32> {
    forward_with(Isa::best(), z, t, d)
}

/// [`forward`] with its loops compiled for `isa`.
pub fn forward_with(isa: Isa, z: &[f32], t: &[f32], d: usize) -> Vec<f32> {
    if d == 0 {
        return vec![0.0; z.len()];
    }
    z.par_chunks(d)
        .zip(t.par_chunks(d))
        .map(|(zr, tr)| row_loss(isa, zr, tr))
        .collect()
}

/// [`forward`], and `sigmoid(z) - t` of every element (for [`backward_kept`]) from the same
/// exponentials: the backward then needs none of its own.
pub fn forward_keep(z: &[f32], t: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    forward_keep_with(Isa::best(), z, t, d)
}

/// [`forward_keep`] with its loops compiled for `isa`.
pub fn forward_keep_with(isa: Isa, z: &[f32], t: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut kept = vec![0.0; z.len()];
    if d == 0 {
        return (vec![0.0; z.len()], kept);
    }
    let sums = kept
        .par_chunks_mut(d)
        .zip(z.par_chunks(d).zip(t.par_chunks(d)))
        .map(|(k, (zr, tr))| row_loss_keep(isa, zr, tr, k))
        .collect();
    (sums, kept)
}

/// The logits' gradient from [`forward_keep`]'s `kept`: each sample's `kept` times its output
/// gradient `g`, which is [`backward`]'s `(sigmoid(z) - t) g` bit for bit.
pub fn backward_kept(kept: &[f32], g: &[f32], d: usize) -> Vec<f32> {
    let mut gz = vec![0.0; kept.len()];
    if d == 0 {
        return gz;
    }
    gz.par_chunks_mut(d)
        .zip(kept.par_chunks(d))
        .zip(g.par_iter())
        .for_each(|((out, k), &gr)| {
            for (o, &v) in out.iter_mut().zip(k) {
                *o = v * gr;
            }
        });
    gz
}

/// The gradients of the per-sample sums for their output gradient `g` (one per sample): of
/// the logits, `(sigmoid(z) - t) g`, and of the targets, `-z g` (empty unless `need_t`).
pub fn backward(z: &[f32], t: &[f32], g: &[f32], d: usize, need_t: bool) -> (Vec<f32>, Vec<f32>) {
    backward_with(Isa::best(), z, t, g, d, need_t)
}

/// [`backward`] with its loops compiled for `isa`.
pub fn backward_with(
    isa: Isa,
    z: &[f32],
    t: &[f32],
    g: &[f32],
    d: usize,
    need_t: bool,
) -> (Vec<f32>, Vec<f32>) {
    let mut gz = vec![0.0; z.len()];
    let mut gt = if need_t {
        vec![0.0; z.len()]
    } else {
        Vec::new()
    };
    if d == 0 {
        return (gz, gt);
    }
    gz.par_chunks_mut(d)
        .zip(z.par_chunks(d).zip(t.par_chunks(d)))
        .zip(g.par_iter())
        .for_each(|((out, (zr, tr)), &gr)| row_grad(isa, out, zr, tr, gr));
    if need_t {
        gt.par_chunks_mut(d)
            .zip(z.par_chunks(d))
            .zip(g.par_iter())
            .for_each(|((out, zr), &gr)| {
                for (o, &a) in out.iter_mut().zip(zr) {
                    *o = -a * gr;
                }
            });
    }
    (gz, gt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_gradient_gives_the_same_numbers_bit_for_bit() {
        // Rows of 37 (two full chunks of 16 and a tail), logits from -20 to 20, exact zeros.
        let (rows, d) = (5, 37);
        let z: Vec<f32> = (0..rows * d)
            .map(|i| ((i * 7919 % 1000) as f32 / 25.0 - 20.0) * f32::from(i % 11 != 0))
            .collect();
        let t: Vec<f32> = (0..rows * d).map(|i| (i * 31 % 17) as f32 / 16.0).collect();
        let g: Vec<f32> = (0..rows).map(|r| 0.25 + r as f32 / 3.0).collect();
        for isa in Isa::available() {
            let (sums, kept) = forward_keep_with(isa, &z, &t, d);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&sums), bits(&forward_with(isa, &z, &t, d)), "{isa:?}");
            let (gz, _) = backward_with(isa, &z, &t, &g, d, false);
            assert_eq!(bits(&backward_kept(&kept, &g, d)), bits(&gz), "{isa:?}");
        }
    }

    #[test]
    fn the_polynomials_match_the_library_functions() {
        let mut worst = (0.0f32, 0.0f32);
        for i in 0..=20_000 {
            let a = i as f32 * 0.005; // 0 to 100
            let (ours, libm) = (exp_neg(a), (-a).exp());
            // Beyond 87 both are below f32's normal range: zero is as good as a denormal.
            let rel = if libm > 1e-37 {
                (ours - libm).abs() / libm
            } else {
                f32::from((ours - libm).abs() >= 1e-37)
            };
            if rel > worst.0 {
                worst = (rel, a);
            }
            let e = (i as f32 / 20_000.0).min(1.0);
            let (l, lm) = (log1p_unit(e), e.ln_1p());
            assert!(
                (l - lm).abs() <= 5e-7 * lm.max(1e-30) + 1e-12,
                "log1p({e}): {l} vs {lm}"
            );
        }
        assert!(
            worst.0 < 1e-6,
            "exp(-a): relative error {} at a = {}",
            worst.0,
            worst.1
        );
        assert_eq!(exp_neg(90.0), 0.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(-30.0) - 9.357_623e-14).abs() < 1e-18);
    }
}
