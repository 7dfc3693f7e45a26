//! The convolution's gradient kernel (device code): the input, weight and bias gradients in
//! one launch, with ReLU's mask and the pool's routing; the weight and bias gradients' sums
//! here, the input gradient in `input_grad.rs`; its launch is in `mod.rs`.

use super::super::launch::{SUM_UNITS, cube_sums};
use super::forward::CUT;
use super::input_grad::{grad_x_at, grad_x_pooled_block, grad_x_up2_block};
use cubecl::prelude::*;

/// The output gradient at offset `g` of `grad`, zero where ReLU (if `relu`) cut the output
/// `out` (its offset `o`).
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
    #[comptime] relu: bool,
) -> F {
    let mut r = grad[g];
    if relu {
        if out[o] <= F::new(0.0) {
            r = F::new(0.0);
        }
    }
    r
}

/// This unit's shares of the sums of sum `s`, over every `SUM_UNITS`-th position from
/// `start` (before `end`), into `shares`: for the pair of output and input channels `(oi, ci)`
/// (the first `o * c` sums; `s = oi * c + ci`) the gradients of the nine weights
/// `[oi, ci, ky, kx]` (the output gradient times the input each tap saw) in
/// `shares[ky * 3 + kx]`; for a bias (the next `o` sums) the output gradient in `shares[0]`.
/// The positions are the outputs of the batch and the image (`[b, oy, ox]`, row-major), each
/// output's gradient masked by ReLU's rule; with `pool`, the pool's windows (`[b, py, px]`):
/// only a window's first maximum (row-major), which `y`, the pool's `arg`, names, gets its
/// gradient (none where ReLU cut it), and it goes to the nine taps of that output. A gradient
/// of 0 is skipped.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
fn grad_w_shares<F: Float>(
    s: usize,
    start: usize,
    end: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    shares: &mut Array<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
) {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let o = y.shape(1);
    let (gh, gw) = (grad.shape(2), grad.shape(3));
    let pairs = o * c;
    let (gs0, gs1, gs2, gs3) = (
        grad.stride(0),
        grad.stride(1),
        grad.stride(2),
        grad.stride(3),
    );
    let (ys0, ys1, ys2, ys3) = (y.stride(0), y.stride(1), y.stride(2), y.stride(3));
    let (xs0, xs1, xs2, xs3) = (x.stride(0), x.stride(1), x.stride(2), x.stride(3));
    #[unroll]
    for k in 0..9usize {
        shares[k] = F::new(0.0);
    }
    let weights = s < pairs;
    let mut oi = s / c;
    let mut ci = s % c;
    if !weights {
        oi = s - pairs;
        ci = 0;
    }
    for p in range_stepped(start, end, SUM_UNITS) {
        // The position's row and column in `grad`; the output (oy, ox) of image bi that gets
        // the gradient d.
        let col = p % gw;
        let row = p / gw % gh;
        let bi = p / (gw * gh);
        let g = bi * gs0 + oi * gs1 + row * gs2 + col * gs3;
        let mut oy = row;
        let mut ox = col;
        let mut d = F::new(0.0);
        if pool {
            let k = usize::cast_from(y[bi * ys0 + oi * ys1 + row * ys2 + col * ys3]);
            oy = row * 2 + k / 2;
            ox = col * 2 + k % 2;
            if k < CUT {
                d = grad[g];
            }
        } else {
            d = masked(grad, y, g, bi * ys0 + oi * ys1 + oy * ys2 + ox * ys3, relu);
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

/// All the gradients in one launch of cubes of `SUM_UNITS` units. The first `sums * parts`
/// cubes sum the weight and bias gradients (`sums` is 0 when they are not wanted, else one per
/// pair of output and input channels and one per bias): cube `s * parts + k` takes positions
/// `k * span ..` of the batch and the gradient's image (the outputs, or the pool's windows;
/// `span` of them, fewer in the last part; all of them when `parts` is 1), every unit a
/// strided share ([`grad_w_shares`]), then [`cube_sums`] adds the units' shares, a pair's nine
/// taps together (nine barriers, not 81), always in the same order. With one part the sums go
/// straight to `gw` and `gb`; with more, to `partial` (value `v`'s part `k` at
/// `v * parts + k`, the values being the weights' gradients and then the biases'), which a
/// second launch adds (`launch::sum_parts`). The cubes after them give the input gradient, one
/// unit per input of `gx`, or, pooled without up-sampling or up-sampled without the pool, per
/// 2x2 block of inputs (`input_grad::grad_x_pooled_block`, `grad_x_up2_block`; `nx` units
/// either way, 0 when not wanted). Whether a cube sums is the same
/// for all its units, so all of them reach the same barriers.
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
    pad: usize,
    scale: usize,
    sums: usize,
    parts: usize,
    span: usize,
    nx: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    if cube < sums * parts {
        let (s, k) = (cube / parts, cube % parts);
        let n = grad.shape(0) * grad.shape(2) * grad.shape(3);
        let start = k * span;
        let end = (start + span).min(n);
        let mut shares = Array::<F>::new(9usize);
        grad_w_shares(
            s,
            start + unit,
            end,
            x,
            grad,
            y,
            &mut shares,
            pad,
            scale,
            relu,
            pool,
        );
        let pairs = gw.len() / 9;
        if s < pairs {
            cube_sums::<F>(&mut shares, unit, 9usize);
            if unit == 0 {
                #[unroll]
                for tap in 0..9usize {
                    if parts == 1 {
                        gw[s * 9 + tap] = shares[tap];
                    } else {
                        partial[(s * 9 + tap) * parts + k] = shares[tap];
                    }
                }
            }
        } else {
            cube_sums::<F>(&mut shares, unit, 1usize);
            if unit == 0 {
                if parts == 1 {
                    gb[s - pairs] = shares[0];
                } else {
                    partial[(pairs * 9 + s - pairs) * parts + k] = shares[0];
                }
            }
        }
    } else {
        let i = (cube - sums * parts) * SUM_UNITS + unit;
        if i < nx {
            // Pooled without up-sampling, or up-sampled without the pool: a unit per 2x2 block of
            // inputs; else per input.
            let mut done = false;
            if pool {
                if scale == 1 {
                    grad_x_pooled_block(i, grad, y, weight, x, gx, pad);
                    done = true;
                }
            } else if scale == 2 {
                grad_x_up2_block(i, grad, y, weight, x, gx, pad, relu);
                done = true;
            }
            if !done {
                let g = grad_x_at(i, grad, y, weight, x, pad, scale, relu, pool);
                gx[i] = g;
            }
        }
    }
}
