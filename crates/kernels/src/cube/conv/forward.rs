//! The convolution's forward kernels (device code): the output, and the output with its 2x2
//! max-pool; their launches are in `mod.rs`.

use crate::cube::launch::at;
use crate::cube::loss::{bce, residual};
use crate::cube::sums::{SUM_UNITS, cube_sum};
use cubecl::prelude::*;

/// The 2x2 blocks of outputs `[bi, oi0 + j, y0 + dy, x0 + dx]` (`j` below `ob`; `dy`, `dx` 0
/// or 1) of the convolution into `outs[j * 4 + dy * 2 + dx]`: each the bias plus the sum over
/// the input channels and the 3x3 window (taps outside the image are the padding's zeros,
/// skipped), then `max(., 0)` if `relu`. The image convolved is `x` up-sampled `scale` times
/// (1 or 2; nearest: pixel `(y, x)` of the image is `x`'s `(y / scale, x / scale)`). The four
/// outputs of a channel read a 4x4 patch of the image: each of its pixels is loaded once per
/// input channel for all `ob` output channels (16 loads where four outputs of one channel one
/// by one take 36), and each output still adds its terms channel by channel, tap row by tap
/// row, in order. Outputs past the output's last row or column, or channels past the last
/// (which read the last one's weights again), are computed all the same and must not be
/// stored.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the position and the convolution's shape"
)]
fn conv_block<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    bi: usize,
    oi0: usize,
    y0: usize,
    x0: usize,
    pad: usize,
    scale: usize,
    outs: &mut Array<F>,
    #[comptime] relu: bool,
    #[comptime] ob: usize,
) {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let (xs1, xs2, xs3) = (x.stride(1), x.stride(2), x.stride(3));
    let (ws0, ws1, ws2, ws3) = (
        weight.stride(0),
        weight.stride(1),
        weight.stride(2),
        weight.stride(3),
    );
    let last = weight.shape(0) - 1;
    let xb = bi * x.stride(0);
    let mut taps = Array::<F>::new(9 * ob);
    #[unroll]
    for j in 0..ob {
        let b0 = bias[(oi0 + j).min(last) * bias.stride(0)];
        #[unroll]
        for q in 0..4usize {
            outs[j * 4 + q] = b0;
        }
    }
    for ci in 0..c {
        let xc = xb + ci * xs1;
        #[unroll]
        for j in 0..ob {
            let wc = (oi0 + j).min(last) * ws0 + ci * ws1;
            #[unroll]
            for k in 0..9usize {
                taps[j * 9 + k] = weight[wc + k / 3 * ws2 + k % 3 * ws3];
            }
        }
        // Patch row py is the image's row y0 + py - pad: tap row py - dy of output row y0 + dy.
        #[unroll]
        for py in 0..4usize {
            let iy = y0 + py;
            if iy >= pad && iy - pad < h {
                let xr = xc + (iy - pad) / scale * xs2;
                #[unroll]
                for px in 0..4usize {
                    let ix = x0 + px;
                    if ix >= pad && ix - pad < w {
                        let v = x[xr + (ix - pad) / scale * xs3];
                        #[unroll]
                        for q in 0..4usize {
                            let (dy, dx) = (q / 2, q % 2);
                            if py >= dy && py - dy < 3 && px >= dx && px - dx < 3 {
                                #[unroll]
                                for j in 0..ob {
                                    outs[j * 4 + q] += v * taps[j * 9 + (py - dy) * 3 + px - dx];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if relu {
        #[unroll]
        for q in 0..4 * ob {
            outs[q] = outs[q].max(F::new(0.0));
        }
    }
}

/// Where unit `i` of a kernel with a unit per 2x2 block of outputs in `ob` channels works, the
/// output being `[b, o, oh, ow]`, blocks `[b, channel group, by, bx]` row-major (the last row
/// and column of blocks cut short where a side is odd): `(bi, oi0, y0, x0)`, its image (`b` or
/// more past the last block), first channel, and the block's top-left output.
#[cube]
fn block_of(
    i: usize,
    o: usize,
    oh: usize,
    ow: usize,
    #[comptime] ob: usize,
) -> (usize, usize, usize, usize) {
    let (bh, bw, groups) = (oh.div_ceil(2), ow.div_ceil(2), o.div_ceil(ob));
    let oi0 = i / (bw * bh) % groups * ob;
    (i / (bw * bh * groups), oi0, i / bw % bh * 2, i % bw * 2)
}

/// One unit per 2x2 block `[b, by, bx]` of `ob` output channels from `oi0` of the contiguous
/// `out` (the last row and column of blocks cut short where a side is odd): its (up to) four
/// outputs in each channel ([`conv_block`]).
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape"
)]
pub(super) fn conv_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[comptime] ob: usize,
    #[define(F)] _dtype: ElemType,
) {
    let (o, oh, ow) = (out.shape(1), out.shape(2), out.shape(3));
    let (bi, oi0, y0, x0) = block_of(ABSOLUTE_POS, o, oh, ow, ob);
    if bi >= out.shape(0) {
        terminate!();
    }
    let mut outs = Array::<F>::new(4 * ob);
    conv_block(
        x, weight, bias, bi, oi0, y0, x0, pad, scale, &mut outs, relu, ob,
    );
    #[unroll]
    for j in 0..ob {
        if oi0 + j < o {
            let base = ((bi * o + oi0 + j) * oh + y0) * ow + x0;
            out[base] = outs[j * 4];
            if x0 + 1 < ow {
                out[base + 1] = outs[j * 4 + 1];
            }
            if y0 + 1 < oh {
                out[base + ow] = outs[j * 4 + 2];
                if x0 + 1 < ow {
                    out[base + ow + 1] = outs[j * 4 + 3];
                }
            }
        }
    }
}

/// Cubes of `SUM_UNITS` units, one unit per 2x2 block of logits in `ob` channels as in
/// [`conv_kernel`] (no ReLU): their residuals `sigmoid(z) - t` into the contiguous `out`
/// (the loss's gradient at each logit but for the mean's factor: what the backward reads),
/// and cube `k`'s share of the loss: the BCE-with-logits of its units' logits against `t`
/// (read through its strides, shaped as `out`), a unit's added in order (channel by channel,
/// then row-major in the block), summed in the cube ([`cube_sum`]) and divided by `div`,
/// into `partial[k]`.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape"
)]
pub(super) fn conv_bce_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    pad: usize,
    scale: usize,
    div: usize,
    #[comptime] ob: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    // Cubes past the last part (a grid of more than 65,535) leave, the whole cube at once.
    if cube >= partial.len() {
        terminate!();
    }
    let (o, oh, ow) = (out.shape(1), out.shape(2), out.shape(3));
    let (bi, oi0, y0, x0) = block_of(cube * SUM_UNITS + unit, o, oh, ow, ob);
    let mut loss = F::new(0.0);
    if bi < out.shape(0) {
        let mut outs = Array::<F>::new(4 * ob);
        conv_block(
            x, weight, bias, bi, oi0, y0, x0, pad, scale, &mut outs, false, ob,
        );
        #[unroll]
        for j in 0..ob {
            #[unroll]
            for q in 0..4usize {
                let (oy, ox) = (y0 + q / 2, x0 + q % 2);
                if oi0 + j < o && oy < oh && ox < ow {
                    let z = outs[j * 4 + q];
                    let target = t[at(t, bi, oi0 + j, oy, ox)];
                    out[((bi * o + oi0 + j) * oh + oy) * ow + ox] = residual::<F>(z, target);
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

/// One unit per output `[b, py, px]` of `ob` channels from `oi0` of the contiguous,
/// max-pooled `pooled`: in each channel the maximum of the (up to) four outputs of its 2x2
/// window ([`conv_block`]) into `pooled`, and into `arg` (the same shape) which of them is the
/// window's first maximum, row-major (later outputs win only when strictly larger: 0 top-left,
/// 1 right of it, 2 below, 3 below right, as `launch::first_max_in_window` finds it), or
/// [`CUT`] where ReLU cut the window (its maximum is 0: no gradient passes). The backward reads
/// `arg` where it would otherwise search the window again, and the output before the pool is
/// not stored at all.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape"
)]
#[allow(
    clippy::collapsible_if,
    reason = "`relu` is known when the kernel is compiled: the outer `if` picks the code, the inner one runs"
)]
pub(super) fn conv_pool_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    arg: &mut Tensor<F>,
    pooled: &mut Tensor<F>,
    oh: usize,
    ow: usize,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[comptime] ob: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    let o = pooled.shape(1);
    let (ph, pw, groups) = (pooled.shape(2), pooled.shape(3), o.div_ceil(ob));
    if i >= pooled.shape(0) * groups * ph * pw {
        terminate!();
    }
    let px = i % pw;
    let py = i / pw % ph;
    let oi0 = i / (pw * ph) % groups * ob;
    let bi = i / (pw * ph * groups);
    let (y0, x0) = (py * 2, px * 2);
    let mut outs = Array::<F>::new(4 * ob);
    conv_block(
        x, weight, bias, bi, oi0, y0, x0, pad, scale, &mut outs, relu, ob,
    );
    let (right, below) = (x0 + 1 < ow, y0 + 1 < oh);
    #[unroll]
    for j in 0..ob {
        if oi0 + j < o {
            let (best, first, mut k) = window_max(&outs, j * 4, right, below);
            if relu {
                if first <= F::new(0.0) {
                    k = CUT;
                }
            }
            let at = ((bi * o + oi0 + j) * ph + py) * pw + px;
            pooled[at] = best;
            arg[at] = F::cast_from(k);
        }
    }
}

/// The 2x2 window of outputs at `outs[at..at + 4]` (row-major; the right column there if
/// `right`, the lower row if `below`): its maximum as the pool takes it (`max`), and its first
/// maximum as `launch::first_max_in_window` finds it (a later output wins only when strictly
/// larger) with which one that is (0 to 3).
#[cube]
fn window_max<F: Float>(outs: &Array<F>, at: usize, right: bool, below: bool) -> (F, F, usize) {
    let mut best = outs[at];
    let mut first = best;
    let mut k = 0usize;
    #[unroll]
    for q in 1..4usize {
        // 1: right of the corner; 2: below it; 3: below right.
        let inside = (q == 2 || right) && (q == 1 || below);
        if inside {
            let v = outs[at + q];
            best = best.max(v);
            if v > first {
                first = v;
                k = q;
            }
        }
    }
    (best, first, k)
}

/// In `arg` of [`conv_pool_kernel`]: a window whose maximum ReLU cut, which sends no gradient
/// back.
pub(super) const CUT: usize = 4;
