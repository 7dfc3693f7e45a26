//! The dense layer's forward kernels: its output (through ReLU or not), or its logits' BCE
//! against a target with the residuals the backward reads. A unit gives a block of outputs,
//! `rows` rows by [`BLOCK`] columns, each input and weight it reads read once for the block.

use super::BLOCK;
use crate::cube::loss::{bce, residual};
use crate::cube::sums::{SUM_UNITS, cube_sum};
use cubecl::prelude::*;

/// The layer's output `[r, j]` before any activation: `bias[j]`, then `x[r, k] w[k, j]` added
/// for `k` in order.
#[cube]
pub(in crate::cube) fn product_at<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    r: usize,
    j: usize,
) -> F {
    let (xs0, xs1) = (x.stride(0), x.stride(1));
    let (ws0, ws1) = (w.stride(0), w.stride(1));
    let xr = r * xs0;
    let wj = j * ws1;
    let mut sum = bias[j * bias.stride(0)];
    for k in 0..x.shape(1) {
        sum += x[xr + k * xs1] * w[k * ws0 + wj];
    }
    sum
}

/// The layer's outputs `[r0 + i, j0 + q]` for `i` below `rows` and `q` below [`BLOCK`],
/// before any activation, into `sums[i * BLOCK + q]`, each as [`product_at`] gives it (the
/// bias, then the products added in order), each `x[r, k]` and `w[k, j]` read once for the
/// block. Rows and columns past the last read the last one again; what they give is not to be
/// stored.
#[cube]
fn products_at<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    r0: usize,
    j0: usize,
    sums: &mut Array<F>,
    #[comptime] rows: usize,
) {
    let (last_r, last_j) = (x.shape(0) - 1, w.shape(1) - 1);
    let (xs0, xs1) = (x.stride(0), x.stride(1));
    let (ws0, ws1) = (w.stride(0), w.stride(1));
    let mut xk = Array::<F>::new(rows);
    let mut wk = Array::<F>::new(BLOCK);
    #[unroll]
    for q in 0..BLOCK {
        let b = bias[(j0 + q).min(last_j) * bias.stride(0)];
        #[unroll]
        for i in 0..rows {
            sums[i * BLOCK + q] = b;
        }
    }
    for k in 0..x.shape(1) {
        #[unroll]
        for i in 0..rows {
            xk[i] = x[(r0 + i).min(last_r) * xs0 + k * xs1];
        }
        #[unroll]
        for q in 0..BLOCK {
            wk[q] = w[k * ws0 + (j0 + q).min(last_j) * ws1];
        }
        #[unroll]
        for i in 0..rows {
            #[unroll]
            for q in 0..BLOCK {
                sums[i * BLOCK + q] += xk[i] * wk[q];
            }
        }
    }
}

/// One unit per block of `rows` rows `r` and [`BLOCK`] columns `j` of the contiguous `out`
/// `[b, o]` ([`products_at`]), through `max(., 0)` if `relu`.
#[cube(launch)]
pub(super) fn linear_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] relu: bool,
    #[comptime] rows: usize,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let (b, o) = (out.shape(0), out.shape(1));
    let blocks = o.div_ceil(BLOCK);
    if p >= b.div_ceil(rows) * blocks {
        terminate!();
    }
    let (r0, j0) = (p / blocks * rows, p % blocks * BLOCK);
    let mut sums = Array::<F>::new(rows * BLOCK);
    products_at(x, w, bias, r0, j0, &mut sums, rows);
    #[unroll]
    for i in 0..rows {
        #[unroll]
        for q in 0..BLOCK {
            if r0 + i < b && j0 + q < o {
                let mut y = sums[i * BLOCK + q];
                if relu {
                    y = y.max(F::new(0.0));
                }
                out[(r0 + i) * o + j0 + q] = y;
            }
        }
    }
}

/// Cubes of `SUM_UNITS` units, one unit per block of `rows` rows `r` and [`BLOCK`] logits
/// `[r, j]` ([`products_at`]): their residuals `sigmoid(z) - t` into the contiguous `out` `[b, o]` (the
/// loss's gradient at the logit but for the mean's factor: what the backward reads), and cube
/// `k`'s share of the loss: the BCE-with-logits of its units' logits against `t` ([`bce`]),
/// a unit's added in order, summed in the cube ([`cube_sum`]) and divided by `div`, into
/// `partial[k]`.
#[cube(launch)]
pub(super) fn linear_bce_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    div: usize,
    #[comptime] rows: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    // Cubes past the last part (a grid of more than 65,535) leave, the whole cube at once.
    if cube >= partial.len() {
        terminate!();
    }
    let (b, o) = (out.shape(0), out.shape(1));
    let blocks = o.div_ceil(BLOCK);
    let p = cube * SUM_UNITS + unit;
    let mut loss = F::new(0.0);
    if p < b.div_ceil(rows) * blocks {
        let (r0, j0) = (p / blocks * rows, p % blocks * BLOCK);
        let mut sums = Array::<F>::new(rows * BLOCK);
        products_at(x, w, bias, r0, j0, &mut sums, rows);
        #[unroll]
        for i in 0..rows {
            #[unroll]
            for q in 0..BLOCK {
                let (r, j) = (r0 + i, j0 + q);
                if r < b && j < o {
                    let z = sums[i * BLOCK + q];
                    let target = t[r * t.stride(0) + j * t.stride(1)];
                    out[r * o + j] = residual::<F>(z, target);
                    loss += bce::<F>(z, target);
                }
            }
        }
    }
    let total = cube_sum::<F>(loss, unit);
    if unit == 0 {
        partial[cube] = total / F::cast_from(div);
    }
}
