//! The convolution's gradient kernel (device code): the input, weight and bias gradients in
//! one launch, with ReLU's mask and the pool's routing; its launch is in `mod.rs`.

use super::super::launch::{SUM_UNITS, cube_sums};
use super::forward::CUT;
use cubecl::prelude::*;

/// The output gradient at offset `g` of `grad`, zero where ReLU (if `relu`) cut the output
/// `out` (its offset `o`).
#[allow(
    clippy::collapsible_if,
    reason = "`relu` is known when the kernel is compiled: the outer `if` picks the code, the inner one runs"
)]
#[cube]
fn masked<F: Float>(
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

/// The input gradient at input `i` (`[b, c, sy, sx]` of a contiguous tensor shaped as `x`):
/// the sum over the output channels of what each sends back ([`sent_back`]), over the
/// `scale` x `scale` pixels of the up-sampled image it stands for; or, up-sampled without the
/// pool, the same sum gathered by output ([`sent_back_up2`]).
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
#[allow(
    clippy::collapsible_if,
    reason = "`pool` is known when the kernel is compiled: the outer `if` picks the code, the inner one runs"
)]
fn grad_x_at<F: Float>(
    i: usize,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    x: &Tensor<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
) -> F {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let sx = i % w;
    let sy = i / w % h;
    let ci = i / (w * h) % c;
    let bi = i / (w * h * c);
    let o = y.shape(1);
    // The output's size (before the pool: `y` is then the pool's `arg`, shaped as its output).
    let (oh, ow) = (h * scale + 2 * pad - 2, w * scale + 2 * pad - 2);
    let mut sum = F::new(0.0);
    let (gs0, gs1, ys0, ys1) = (grad.stride(0), grad.stride(1), y.stride(0), y.stride(1));
    let (ws0, ws1) = (weight.stride(0), weight.stride(1));
    let mut done = false;
    if !pool {
        if scale == 2 {
            for oi in 0..o {
                let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
                let wb = oi * ws0 + ci * ws1;
                sum += sent_back_up2(
                    grad,
                    y,
                    weight,
                    gb,
                    yb,
                    wb,
                    sy * 2 + pad,
                    sx * 2 + pad,
                    relu,
                );
            }
            done = true;
        }
    }
    if !done {
        for p in 0..scale * scale {
            let yy = sy * scale + p / scale + pad;
            let xx = sx * scale + p % scale + pad;
            for oi in 0..o {
                let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
                let wb = oi * ws0 + ci * ws1;
                sum += sent_back(grad, y, weight, gb, yb, wb, yy, xx, oh, ow, relu, pool);
            }
        }
    }
    sum
}

/// What the output channel whose offsets are `gb` (in `grad`), `yb` (in `y`) and `wb` (in
/// `weight`, with the input channel's) sends back to an input whose 2x2 block of the
/// up-sampled image starts at `(yy, xx)` of the padded image, without the pool. The block's
/// four pixels reach a 4x4 patch of outputs, rows `yy - 2 ..= yy + 1` and the same columns:
/// output `(yy - 2 + a, xx - 2 + b)` through the taps whose rows are `K(a)` and columns
/// `K(b)`, `K` being `{2}`, `{1, 2}`, `{0, 1}`, `{0}` for 0 to 3. So each of the 16 outputs'
/// gradients (masked by ReLU) is read once and multiplied by the sum of those taps' weights,
/// where [`sent_back`] over the four pixels reads 36 gradients and weights: the same sum,
/// grouped by output.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the offsets, the position and the flag"
)]
fn sent_back_up2<F: Float>(
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    gb: usize,
    yb: usize,
    wb: usize,
    yy: usize,
    xx: usize,
    #[comptime] relu: bool,
) -> F {
    let (oh, ow) = (y.shape(2), y.shape(3));
    let (gs2, gs3, ys2, ys3) = (grad.stride(2), grad.stride(3), y.stride(2), y.stride(3));
    let (ws2, ws3) = (weight.stride(2), weight.stride(3));
    // rows[a * 3 + kx]: the weights of column kx summed over the rows K(a); then taps[a * 4 +
    // b]: those summed over the columns K(b).
    let mut rows = Array::<F>::new(12usize);
    #[unroll]
    for kx in 0..3usize {
        let w0 = weight[wb + kx * ws3];
        let w1 = weight[wb + ws2 + kx * ws3];
        let w2 = weight[wb + 2 * ws2 + kx * ws3];
        rows[kx] = w2;
        rows[3 + kx] = w1 + w2;
        rows[6 + kx] = w0 + w1;
        rows[9 + kx] = w0;
    }
    let mut taps = Array::<F>::new(16usize);
    #[unroll]
    for a in 0..4usize {
        taps[a * 4] = rows[a * 3 + 2];
        taps[a * 4 + 1] = rows[a * 3 + 1] + rows[a * 3 + 2];
        taps[a * 4 + 2] = rows[a * 3] + rows[a * 3 + 1];
        taps[a * 4 + 3] = rows[a * 3];
    }
    let mut sum = F::new(0.0);
    #[unroll]
    for a in 0..4usize {
        // Output row yy + a - 2, kept unsigned.
        let oy = yy + a;
        if oy >= 2 && oy - 2 < oh {
            let (gr, yr) = (gb + (oy - 2) * gs2, yb + (oy - 2) * ys2);
            #[unroll]
            for b in 0..4usize {
                let ox = xx + b;
                if ox >= 2 && ox - 2 < ow {
                    let d = masked(grad, y, gr + (ox - 2) * gs3, yr + (ox - 2) * ys3, relu);
                    sum += d * taps[a * 4 + b];
                }
            }
        }
    }
    sum
}

/// What the output channel whose offsets are `gb` (in `grad`), `yb` (in `y`) and `wb` (in
/// `weight`, with the input channel's) sends back to the input at `(yy, xx)` of the padded
/// image, the output being `oh` x `ow`. Without `pool`: the gradient of each of the (up to)
/// nine outputs the input reached, masked by ReLU, times the weight of the tap that joined
/// them. With `pool`, `grad` is the pooled output's gradient and `y` the pool's `arg`
/// (`forward::conv_pool_kernel`): each of the (up to) four 2x2 windows that hold outputs the
/// input reached sends its gradient back only through its first maximum (not where ReLU cut
/// it), if the input reached that one, times the weight of the tap that joined them.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the offsets, the position, the output's size and the two flags"
)]
fn sent_back<F: Float>(
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    gb: usize,
    yb: usize,
    wb: usize,
    yy: usize,
    xx: usize,
    oh: usize,
    ow: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
) -> F {
    let (gs2, gs3, ys2, ys3) = (grad.stride(2), grad.stride(3), y.stride(2), y.stride(3));
    let (ws2, ws3) = (weight.stride(2), weight.stride(3));
    let mut sum = F::new(0.0);
    if pool {
        // The outputs the input reached: rows yy - 2 ..= yy and columns xx - 2 ..= xx, inside
        // the output; the windows holding them.
        let (y_lo, x_lo) = (yy - yy.min(2), xx - xx.min(2));
        let (y_hi, x_hi) = (yy.min(oh - 1), xx.min(ow - 1));
        if y_lo <= y_hi && x_lo <= x_hi {
            for wy in y_lo / 2..y_hi / 2 + 1 {
                for wx in x_lo / 2..x_hi / 2 + 1 {
                    let k = usize::cast_from(y[yb + wy * ys2 + wx * ys3]);
                    let (my, mx) = (wy * 2 + k / 2, wx * 2 + k % 2);
                    let reached = my <= yy && yy - my < 3 && mx <= xx && xx - mx < 3;
                    if k < CUT && reached {
                        let w = weight[wb + (yy - my) * ws2 + (xx - mx) * ws3];
                        sum += grad[gb + wy * gs2 + wx * gs3] * w;
                    }
                }
            }
        }
    } else {
        #[unroll]
        for ky in 0..3usize {
            if yy >= ky && yy - ky < oh {
                let (gr, yr) = (gb + (yy - ky) * gs2, yb + (yy - ky) * ys2);
                #[unroll]
                for kx in 0..3usize {
                    if xx >= kx && xx - kx < ow {
                        let (g, yo) = (gr + (xx - kx) * gs3, yr + (xx - kx) * ys3);
                        let d = masked(grad, y, g, yo, relu);
                        sum += d * weight[wb + ky * ws2 + kx * ws3];
                    }
                }
            }
        }
    }
    sum
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
/// unit per input of `gx` (`nx` of them; 0 when not wanted). Whether a cube sums is the same
/// for all its units, so all of them reach the same barriers.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the convolution's shape and the counts"
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
            let g = grad_x_at(i, grad, y, weight, x, pad, scale, relu, pool);
            gx[i] = g;
        }
    }
}
