//! The convolution's gradient kernel (device code): the input, weight and bias gradients in
//! one launch, with ReLU's mask and the pool's routing; the weight and bias gradients' sums
//! here, the input gradient in `input_grad.rs`; its launch is in `mod.rs`.

use super::super::launch::strides;
use super::super::loss::residual_factor;
use super::super::sums::{SUM_UNITS, store_sums};
use super::forward::CUT;
use super::input_grad::{grad_x_at, grad_x_pooled_block, grad_x_up2_block};
use cubecl::prelude::*;

/// The output gradient at offset `g` of `grad`, zero where ReLU (if `relu`) cut the output
/// `out` (its offset `o`); with `bce`, `grad` holds the residuals of the mean loss fused after
/// the convolution (`forward::conv_bce_kernel`), and the gradient is the residual times
/// `factor` (`loss::residual_factor`).
#[allow(
    clippy::collapsible_if,
    reason = "`relu` is known when the kernel is compiled: the outer `if` picks the code, the inner one runs"
)]
#[cube]
pub(super) fn masked<F: Float>(
    grad: &Tensor<F>,
    out: &Tensor<F>,
    g: usize,
    o: usize,
    factor: F,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
) -> F {
    let mut r = grad[g];
    if bce {
        r *= factor;
    }
    if relu {
        if out[o] <= F::new(0.0) {
            r = F::new(0.0);
        }
    }
    r
}

/// The pair of output and input channels `(oi, ci)` sum `s` stands for (the first `o * c`
/// sums; `s = oi * c + ci`), or the bias `(oi, 0)` (the next `o`), and whether it is a pair.
#[cube]
fn sum_channels(s: usize, o: usize, c: usize) -> (usize, usize, bool) {
    let pairs = o * c;
    let weights = s < pairs;
    let mut oi = s / c;
    let mut ci = s % c;
    if !weights {
        oi = s - pairs;
        ci = 0;
    }
    (oi, ci, weights)
}

/// A pooled convolution's share of this unit in the sums of sum `s` ([`sum_channels`]), over
/// every `SUM_UNITS`-th window from `start` (before `end`) of the batch and the pooled image
/// (`[b, py, px]`, row-major), into `shares`: for a pair, the gradients of the nine weights
/// `[oi, ci, ky, kx]` (the output gradient times the input each tap saw) in
/// `shares[ky * 3 + kx]`; for a bias, the output gradient in `shares[0]`. Only a window's
/// first maximum (row-major), which `y`, the pool's `arg`, names, gets its gradient (none
/// where ReLU cut it), and it goes to the nine taps of that output; a gradient of 0 is
/// skipped.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
fn grad_w_shares_pooled<F: Float>(
    s: usize,
    start: usize,
    end: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    shares: &mut Array<F>,
    pad: usize,
    scale: usize,
) {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let (gh, gw) = (grad.shape(2), grad.shape(3));
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let (ys0, ys1, ys2, ys3) = strides(y);
    let (xs0, xs1, xs2, xs3) = strides(x);
    #[unroll]
    for k in 0..9usize {
        shares[k] = F::new(0.0);
    }
    let (oi, ci, weights) = sum_channels(s, y.shape(1), c);
    for p in range_stepped(start, end, SUM_UNITS) {
        // The window's row and column in `grad`; its maximum (oy, ox) of image bi gets the
        // gradient d.
        let col = p % gw;
        let row = p / gw % gh;
        let bi = p / (gw * gh);
        let k = usize::cast_from(y[bi * ys0 + oi * ys1 + row * ys2 + col * ys3]);
        let (oy, ox) = (row * 2 + k / 2, col * 2 + k % 2);
        let mut d = F::new(0.0);
        if k < CUT {
            d = grad[bi * gs0 + oi * gs1 + row * gs2 + col * gs3];
        }
        if weights {
            if d != F::new(0.0) {
                let xc = bi * xs0 + ci * xs1;
                #[unroll]
                for ky in 0..3usize {
                    let iy = oy + ky;
                    if iy >= pad && iy - pad < h {
                        let xr = xc + (iy - pad) / scale * xs2;
                        #[unroll]
                        for kx in 0..3usize {
                            let ix = ox + kx;
                            if ix >= pad && ix - pad < w {
                                shares[ky * 3 + kx] += d * x[xr + (ix - pad) / scale * xs3];
                            }
                        }
                    }
                }
            }
        } else {
            shares[0] += d;
        }
    }
}

/// As [`grad_w_shares_pooled`] for a convolution without the pool, over 2x2 blocks of outputs
/// (`[b, by, bx]`, row-major, [`sum_positions`] of them; blocks cut short at an odd side have
/// gradients of 0 past it): each output's gradient masked by ReLU's rule (or, with `bce`, its
/// residual times `factor`: [`masked`]), and, for a pair,
/// the 4x4 patch of the image the block's outputs read loaded once (zeros outside the image),
/// where the four outputs one by one would load 36 pixels; its outputs' terms added in order,
/// each gradient of 0 skipped.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
fn grad_w_shares_blocks<F: Float>(
    s: usize,
    start: usize,
    end: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    shares: &mut Array<F>,
    pad: usize,
    scale: usize,
    factor: F,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
) {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let (oh, ow) = (grad.shape(2), grad.shape(3));
    let (bh, bw) = (oh.div_ceil(2), ow.div_ceil(2));
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let (ys0, ys1, ys2, ys3) = strides(y);
    let (xs0, xs1, xs2, xs3) = strides(x);
    #[unroll]
    for k in 0..9usize {
        shares[k] = F::new(0.0);
    }
    let (oi, ci, weights) = sum_channels(s, y.shape(1), c);
    let mut d = Array::<F>::new(4usize);
    let mut patch = Array::<F>::new(16usize);
    let zero = F::new(0.0);
    for p in range_stepped(start, end, SUM_UNITS) {
        let (y0, x0) = (p / bw % bh * 2, p % bw * 2);
        let bi = p / (bw * bh);
        let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
        #[unroll]
        for q in 0..4usize {
            let (oy, ox) = (y0 + q / 2, x0 + q % 2);
            d[q] = zero;
            if oy < oh && ox < ow {
                let (g, yo) = (gb + oy * gs2 + ox * gs3, yb + oy * ys2 + ox * ys3);
                d[q] = masked(grad, y, g, yo, factor, relu, bce);
            }
        }
        if weights {
            if d[0] != zero || d[1] != zero || d[2] != zero || d[3] != zero {
                // Patch row py is the image's row y0 + py - pad: tap row py - dy of output
                // row y0 + dy. The same for columns.
                let xc = bi * xs0 + ci * xs1;
                #[unroll]
                for py in 0..4usize {
                    let iy = y0 + py;
                    let row_in = iy >= pad && iy - pad < h;
                    #[unroll]
                    for px in 0..4usize {
                        let ix = x0 + px;
                        patch[py * 4 + px] = zero;
                        if row_in && ix >= pad && ix - pad < w {
                            let at = xc + (iy - pad) / scale * xs2 + (ix - pad) / scale * xs3;
                            patch[py * 4 + px] = x[at];
                        }
                    }
                }
                #[unroll]
                for q in 0..4usize {
                    let (dy, dx) = (q / 2, q % 2);
                    if d[q] != zero {
                        #[unroll]
                        for k in 0..9usize {
                            shares[k] += d[q] * patch[(dy + k / 3) * 4 + dx + k % 3];
                        }
                    }
                }
            }
        } else {
            #[unroll]
            for q in 0..4usize {
                shares[0] += d[q];
            }
        }
    }
}

/// How many positions the weight and bias sums of a convolution run over, its gradient
/// `[b, _, rows, cols]`: with `pool` the windows, `b rows cols`; without, the 2x2 blocks of
/// outputs ([`grad_w_shares_blocks`]).
pub(super) fn sum_positions(b: usize, rows: usize, cols: usize, pool: bool) -> usize {
    if pool {
        b * rows * cols
    } else {
        b * rows.div_ceil(2) * cols.div_ceil(2)
    }
}

/// All the gradients in one launch of cubes of `SUM_UNITS` units. The first `sums * parts`
/// cubes sum the weight and bias gradients (`sums` is 0 when they are not wanted, else one per
/// pair of output and input channels and one per bias): cube `s * parts + k` takes positions
/// `k * span ..` of the batch and the gradient's image (the pool's windows, or 2x2 blocks of
/// outputs: `positions` in all, [`sum_positions`]; `span` of them, fewer in the last part; all
/// of them when `parts` is 1), every unit a strided share ([`grad_w_shares_pooled`],
/// [`grad_w_shares_blocks`]), then [`store_sums`] adds the units' shares, a pair's nine
/// taps together (nine barriers, not 81), always in the same order. With one part the sums go
/// straight to `gw` and `gb`; with more, to `partial` (value `v`'s part `k` at
/// `v * parts + k`, the values being the weights' gradients and then the biases'), which a
/// second launch adds (`sums::sum_parts`). The cubes after them give the input gradient, one
/// unit per input of `gx`, or, pooled without up-sampling or up-sampled without the pool, per
/// 2x2 block of inputs in `cb` input channels (`input_grad::grad_x_pooled_block`,
/// `grad_x_up2_block`; `nx` units either way, 0 when not wanted). With `bce` (never with ReLU or
/// the pool), `grad` holds the residuals of the mean loss fused after the convolution, whose
/// gradient `mean_grad` (`[1]`) spreads over their `div` elements ([`masked`]); else
/// `mean_grad` and `div` are not read. Whether a cube sums is the same for all its units, so all
/// of them reach the same barriers.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the convolution's shape and the counts"
)]
#[allow(
    clippy::collapsible_if,
    reason = "`pool` is known when the kernel is compiled: the outer `if` picks the code, the inner one runs"
)]
pub(super) fn conv_grads_kernel<F: Float>(
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    gx: &mut Tensor<F>,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    mean_grad: &Tensor<F>,
    pad: usize,
    scale: usize,
    div: usize,
    sums: usize,
    parts: usize,
    span: usize,
    positions: usize,
    nx: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
    #[comptime] bce: bool,
    #[comptime] cb: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    let factor = residual_factor(mean_grad, div, bce);
    if cube < sums * parts {
        let (s, k) = (cube / parts, cube % parts);
        let start = k * span;
        let end = (start + span).min(positions);
        let mut shares = Array::<F>::new(9usize);
        if pool {
            grad_w_shares_pooled(s, start + unit, end, x, grad, y, &mut shares, pad, scale);
        } else {
            let first = start + unit;
            grad_w_shares_blocks(
                s,
                first,
                end,
                x,
                grad,
                y,
                &mut shares,
                pad,
                scale,
                factor,
                relu,
                bce,
            );
        }
        store_sums(&mut shares, s, k, parts, unit, gw, gb, partial);
    } else {
        let i = (cube - sums * parts) * SUM_UNITS + unit;
        if i < nx {
            // Pooled without up-sampling, or up-sampled without the pool: a unit per 2x2 block of
            // inputs; else per input.
            let mut done = false;
            if pool {
                if scale == 1 {
                    grad_x_pooled_block(i, grad, y, weight, x, gx, pad, cb);
                    done = true;
                }
            } else if scale == 2 {
                grad_x_up2_block(i, grad, y, weight, x, gx, pad, factor, relu, bce, cb);
                done = true;
            }
            if !done {
                let g = grad_x_at(i, grad, y, weight, x, pad, scale, factor, relu, pool, bce);
                gx[i] = g;
            }
        }
    }
}
