//! The dense layer's gradient kernel: the input's, the weight's and the bias's gradients in
//! one launch, the gradient arriving at the output masked by ReLU or worked out from the
//! loss's residuals on the way.

use super::BLOCK;
use crate::cube::loss::residual_factor;
use cubecl::prelude::*;

/// The gradient reaching the product at `[r, j]`. With `bce` the product is a logit whose
/// loss was averaged over `div` elements, and `out` its residual `sigmoid(z) - t`
/// ([`linear_bce_kernel`]): `out` times `scale`, the mean's gradient over its elements
/// ([`residual_factor`]), as the loss's own gradient kernel computes it. Else `grad`'s, or,
/// with `relu`, 0 where the output `out` is not positive (ReLU's rule, a select rather than a
/// branch). `out` is read only with one of the two.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the position and what follows"
)]
#[allow(
    unused_assignments,
    reason = "the cube macro needs the variable declared before the comptime branches assign it"
)]
fn arriving<F: Float>(
    grad: &Tensor<F>,
    out: &Tensor<F>,
    scale: F,
    r: usize,
    j: usize,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
) -> F {
    let mut g = F::new(0.0);
    if bce {
        g = out[r * out.stride(0) + j * out.stride(1)] * scale;
    } else {
        g = grad[r * grad.stride(0) + j * grad.stride(1)];
        if relu {
            let kept = out[r * out.stride(0) + j * out.stride(1)] > F::new(0.0);
            g = select(kept, g, F::new(0.0));
        }
    }
    g
}

/// In three stretches of the grid: the first `nw` units the weight's gradient, a unit per
/// block of [`BLOCK`] rows `k` by `rows` outputs `j` (`gw[k, j]`, the sum over the batch `r` of
/// `x[r, k]` times the arriving gradient [`arriving`]`(r, j)`, each `x[r, k]` and arriving
/// gradient read once for the block); the next `nb` the bias's `gb[j]` (the sum over the batch
/// of the arriving gradient); the last `nx` the input's gradient, a unit per block of `rows`
/// rows `r` by [`BLOCK`] columns `k` (`gx[r, k]`, the sum over the outputs `j` of the arriving
/// gradient times `w[k, j]`, each read once for the block). Each sum is added in order, as one
/// unit per element would (the same sums to the bit); `nw` and `nb` are 0 when the weight's are
/// not wanted, `nx` when the input's is not. A block past the last row or column reads the
/// last one again and stores nothing for it.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the stretches and what follows the layer"
)]
pub(super) fn linear_grads_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    out: &Tensor<F>,
    grad: &Tensor<F>,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    gx: &mut Tensor<F>,
    nw: usize,
    nb: usize,
    nx: usize,
    div: usize,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
    #[comptime] rows: usize,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let (b, n, o) = (x.shape(0), x.shape(1), w.shape(1));
    let blocks = n.div_ceil(BLOCK);
    let scale = residual_factor(grad, div, bce);
    let mut sums = Array::<F>::new(BLOCK * rows);
    #[unroll]
    for q in 0..BLOCK * rows {
        sums[q] = F::new(0.0);
    }
    let mut a = Array::<F>::new(rows);
    let mut v = Array::<F>::new(BLOCK);
    if p < nw {
        let columns = o.div_ceil(rows);
        let (k0, j0) = (p / columns * BLOCK, p % columns * rows);
        let (xs0, xs1) = (x.stride(0), x.stride(1));
        for r in 0..b {
            #[unroll]
            for c in 0..rows {
                a[c] = arriving(grad, out, scale, r, (j0 + c).min(o - 1), relu, bce);
            }
            #[unroll]
            for q in 0..BLOCK {
                v[q] = x[r * xs0 + (k0 + q).min(n - 1) * xs1];
            }
            #[unroll]
            for q in 0..BLOCK {
                #[unroll]
                for c in 0..rows {
                    sums[q * rows + c] += v[q] * a[c];
                }
            }
        }
        #[unroll]
        for q in 0..BLOCK {
            #[unroll]
            for c in 0..rows {
                if k0 + q < n && j0 + c < o {
                    gw[(k0 + q) * o + j0 + c] = sums[q * rows + c];
                }
            }
        }
    } else if p < nw + nb {
        let j = p - nw;
        let mut sum = F::new(0.0);
        for r in 0..b {
            sum += arriving(grad, out, scale, r, j, relu, bce);
        }
        gb[j] = sum;
    } else if p < nw + nb + nx {
        let u = p - nw - nb;
        let (r0, k0) = (u / blocks * rows, u % blocks * BLOCK);
        let (ws0, ws1) = (w.stride(0), w.stride(1));
        for j in 0..o {
            #[unroll]
            for i in 0..rows {
                a[i] = arriving(grad, out, scale, (r0 + i).min(b - 1), j, relu, bce);
            }
            #[unroll]
            for q in 0..BLOCK {
                v[q] = w[(k0 + q).min(n - 1) * ws0 + j * ws1];
            }
            #[unroll]
            for i in 0..rows {
                #[unroll]
                for q in 0..BLOCK {
                    sums[i * BLOCK + q] += a[i] * v[q];
                }
            }
        }
        #[unroll]
        for i in 0..rows {
            #[unroll]
            for q in 0..BLOCK {
                if r0 + i < b && k0 + q < n {
                    gx[(r0 + i) * n + k0 + q] = sums[i * BLOCK + q];
                }
            }
        }
    }
}
