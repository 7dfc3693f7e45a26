//! The convolution's input gradient (device code), for the gradient kernel of `backward.rs`:
//! what each input gets back from the outputs it reached, through ReLU's mask, the pool's
//! routing to each window's first maximum, and the up-sampling.

use super::super::launch::strides;
use super::backward::masked;
use super::forward::CUT;
use cubecl::prelude::*;

/// The input gradient at input `i` (`[b, c, sy, sx]` of a contiguous tensor shaped as `x`):
/// the sum over the output channels of what each sends back ([`sent_back`]), over the
/// `scale` x `scale` pixels of the up-sampled image it stands for. (The models' pooled and
/// up-sampled convolutions take [`grad_x_pooled_block`] and [`grad_x_up2_block`] instead.)
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
pub(super) fn grad_x_at<F: Float>(
    i: usize,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    x: &Tensor<F>,
    pad: usize,
    scale: usize,
    factor: F,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
    #[comptime] bce: bool,
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
    for p in 0..scale * scale {
        let yy = sy * scale + p / scale + pad;
        let xx = sx * scale + p % scale + pad;
        for oi in 0..o {
            let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
            let wb = oi * ws0 + ci * ws1;
            sum += sent_back(
                grad, y, weight, gb, yb, wb, yy, xx, oh, ow, factor, relu, pool, bce,
            );
        }
    }
    sum
}

/// The weights joining an input's 2x2 block of the up-sampled image to the 4x4 patch of
/// outputs it reaches, for the output and input channels at `wb` of `weight`: the block at
/// `(yy, xx)` of the padded image reaches output `(yy - 2 + a, xx - 2 + b)` through the taps
/// whose rows are `K(a)` and columns `K(b)`, `K` being `{2}`, `{1, 2}`, `{0, 1}`, `{0}` for 0
/// to 3; `taps[a * 4 + b]` is the sum of their weights.
#[cube]
fn up2_taps<F: Float>(weight: &Tensor<F>, wb: usize, taps: &mut Array<F>) {
    let (ws2, ws3) = (weight.stride(2), weight.stride(3));
    // rows[a * 3 + kx]: the weights of column kx summed over the rows K(a).
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
    #[unroll]
    for a in 0..4usize {
        taps[a * 4] = rows[a * 3 + 2];
        taps[a * 4 + 1] = rows[a * 3 + 1] + rows[a * 3 + 2];
        taps[a * 4 + 2] = rows[a * 3] + rows[a * 3 + 1];
        taps[a * 4 + 3] = rows[a * 3];
    }
}

/// The input gradient of a convolution of the input up-sampled 2x, without the pool, for the
/// 2x2 blocks of inputs `i` (`[b, g, t, u]`: inputs `2 t + dy`, `2 u + dx` of the `cb` input
/// channels from `g cb`, those inside the input), into the contiguous `gx`. Input `(sy, sx)`
/// stands for the 2x2 block of the image at `(2 sy + pad, 2 sx + pad)` of the padded image,
/// which reaches a 4x4 patch of outputs, each through the sum of the taps that join them
/// ([`up2_taps`]): so each output's gradient (masked by ReLU) is read once for an input where
/// its nine taps one by one would read it up to four times, and the four inputs of a block in
/// every one of the `cb` channels share a 6x6 patch of outputs, each read once for all of
/// them. Each input adds its 16 outputs' terms in order, output channel by output channel
/// (the patch's outputs outside the output add a 0, which changes no sum). Channels past the
/// last read the last one's weights again and store nothing.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the block, the padding and the flags"
)]
pub(super) fn grad_x_up2_block<F: Float>(
    i: usize,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    x: &Tensor<F>,
    gx: &mut Tensor<F>,
    pad: usize,
    factor: F,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
    #[comptime] cb: usize,
) {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let (bh, bw, groups) = (h.div_ceil(2), w.div_ceil(2), c.div_ceil(cb));
    let (t, u) = (i / bw % bh, i % bw);
    let ci0 = i / (bw * bh) % groups * cb;
    let bi = i / (bw * bh * groups);
    let (o, oh, ow) = (y.shape(1), y.shape(2), y.shape(3));
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let (ys0, ys1, ys2, ys3) = strides(y);
    let (ws0, ws1) = (weight.stride(0), weight.stride(1));
    // Patch row r is output row 4 t + pad - 2 + r (kept unsigned as oy - 2); input dy of the
    // block reaches rows r = 2 dy + a, a in 0..4. The same for columns.
    let (y2, x2) = (t * 4 + pad, u * 4 + pad);
    let zero = F::new(0.0);
    let mut d = Array::<F>::new(36usize);
    let mut taps = Array::<F>::new(16usize);
    let mut sums = Array::<F>::new(4 * cb);
    let mut part = Array::<F>::new(4 * cb);
    #[unroll]
    for q in 0..4 * cb {
        sums[q] = zero;
    }
    for oi in 0..o {
        let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
        #[unroll]
        for r in 0..6usize {
            let oy = y2 + r;
            let row_in = oy >= 2 && oy - 2 < oh;
            #[unroll]
            for e in 0..6usize {
                let ox = x2 + e;
                d[r * 6 + e] = zero;
                if row_in && ox >= 2 && ox - 2 < ow {
                    let (g, yo) = (
                        gb + (oy - 2) * gs2 + (ox - 2) * gs3,
                        yb + (oy - 2) * ys2 + (ox - 2) * ys3,
                    );
                    d[r * 6 + e] = masked(grad, y, g, yo, factor, relu, bce);
                }
            }
        }
        #[unroll]
        for j in 0..cb {
            up2_taps(weight, oi * ws0 + (ci0 + j).min(c - 1) * ws1, &mut taps);
            #[unroll]
            for q in 0..4usize {
                part[j * 4 + q] = zero;
            }
            #[unroll]
            for r in 0..6usize {
                #[unroll]
                for e in 0..6usize {
                    #[unroll]
                    for q in 0..4usize {
                        let (dy, dx) = (q / 2, q % 2);
                        if r >= 2 * dy && r - 2 * dy < 4 && e >= 2 * dx && e - 2 * dx < 4 {
                            part[j * 4 + q] += d[r * 6 + e] * taps[(r - 2 * dy) * 4 + e - 2 * dx];
                        }
                    }
                }
            }
            #[unroll]
            for q in 0..4usize {
                sums[j * 4 + q] += part[j * 4 + q];
            }
        }
    }
    #[unroll]
    for j in 0..cb {
        if ci0 + j < c {
            #[unroll]
            for q in 0..4usize {
                let (sy, sx) = (t * 2 + q / 2, u * 2 + q % 2);
                if sy < h && sx < w {
                    gx[((bi * c + ci0 + j) * h + sy) * w + sx] = sums[j * 4 + q];
                }
            }
        }
    }
}

/// What the output channel whose offsets are `gb` (in `grad`), `yb` (in `y`) and `wb` (in
/// `weight`, with the input channel's) sends back to the input at `(yy, xx)` of the padded
/// image, the output being `oh` x `ow`. Without `pool`: the gradient of each of the (up to)
/// nine outputs the input reached, masked by ReLU, times the weight of the tap that joined
/// them (with `bce`, the residual times `factor`: [`masked`]). With `pool`, `grad` is the pooled output's gradient and `y` the pool's `arg`
/// (`forward::conv_pool_kernel`): each of the (up to) four 2x2 windows that hold outputs the
/// input reached sends its gradient back only through its first maximum (not where ReLU cut
/// it), if the input reached that one, times the weight of the tap that joined them.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the offsets, the position, the output's size and the flags"
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
    factor: F,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
    #[comptime] bce: bool,
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
                        let d = masked(grad, y, g, yo, factor, relu, bce);
                        sum += d * weight[wb + ky * ws2 + kx * ws3];
                    }
                }
            }
        }
    }
    sum
}

/// The input gradient of a pooled convolution (no up-sampling) for the 2x2 blocks of inputs
/// `i` (`[b, g, t, u]`, `ceil((n + pad) / 2)` of them on a side of `n` inputs, `pad` being 0
/// or 1, in each of the `cb` input channels from `g cb`): the inputs at rows `2 t, 2 t + 1`
/// and columns `2 u, 2 u + 1` of the padded image, those inside it, into the contiguous `gx`.
/// All four reach outputs of the same (up to) 2x2 windows, `t - 1 ..= t` by `u - 1 ..= u`, so
/// each window's first maximum (`y`, the pool's `arg`) and gradient are read once for the
/// four inputs in every one of the `cb` channels, where [`sent_back`] reads them once per
/// input. Each input still adds, output channel by output channel and window by window in
/// order, the gradient of each window whose maximum it reached times the weight of the tap
/// that joined them: the same sums to the bit. Channels past the last read the last one's
/// weights again and store nothing.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the block, the padding and the block's channels"
)]
pub(super) fn grad_x_pooled_block<F: Float>(
    i: usize,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    x: &Tensor<F>,
    gx: &mut Tensor<F>,
    pad: usize,
    #[comptime] cb: usize,
) {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let (bh, bw, groups) = ((h + pad).div_ceil(2), (w + pad).div_ceil(2), c.div_ceil(cb));
    let (t, u) = (i / bw % bh, i % bw);
    let ci0 = i / (bw * bh) % groups * cb;
    let bi = i / (bw * bh * groups);
    let (o, ph, pw) = (y.shape(1), y.shape(2), y.shape(3));
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let (ys0, ys1, ys2, ys3) = strides(y);
    let (ws0, ws1, ws2, ws3) = strides(weight);
    let zero = F::new(0.0);
    let mut sums = Array::<F>::new(4 * cb);
    #[unroll]
    for q in 0..4 * cb {
        sums[q] = zero;
    }
    // Each output channel's share summed on its own, then added, as grad_x_at adds what
    // sent_back gives. Window `a * 2 + e` (row t - 1 + a, column u - 1 + e): its maximum's
    // row and column in the output (kept unsigned as my, mx), its gradient, whether it sends
    // one (inside the pooled output, not cut by ReLU).
    let mut part = Array::<F>::new(4 * cb);
    let mut my = Array::<usize>::new(4usize);
    let mut mx = Array::<usize>::new(4usize);
    let mut g = Array::<F>::new(4usize);
    let mut sends = Array::<bool>::new(4usize);
    for oi in 0..o {
        let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
        #[unroll]
        for v in 0..4usize {
            let (wy, wx) = (t + v / 2, u + v % 2);
            sends[v] = false;
            my[v] = 0;
            mx[v] = 0;
            g[v] = zero;
            if wy >= 1 && wy - 1 < ph && wx >= 1 && wx - 1 < pw {
                let (ry, rx) = (wy - 1, wx - 1);
                let k = usize::cast_from(y[yb + ry * ys2 + rx * ys3]);
                if k < CUT {
                    sends[v] = true;
                    my[v] = ry * 2 + k / 2;
                    mx[v] = rx * 2 + k % 2;
                    g[v] = grad[gb + ry * gs2 + rx * gs3];
                }
            }
        }
        #[unroll]
        for j in 0..cb {
            let wb = oi * ws0 + (ci0 + j).min(c - 1) * ws1;
            #[unroll]
            for q in 0..4usize {
                part[j * 4 + q] = zero;
            }
            #[unroll]
            for v in 0..4usize {
                if sends[v] {
                    #[unroll]
                    for q in 0..4usize {
                        let (yy, xx) = (t * 2 + q / 2, u * 2 + q % 2);
                        if my[v] <= yy && yy - my[v] < 3 && mx[v] <= xx && xx - mx[v] < 3 {
                            let tap = wb + (yy - my[v]) * ws2 + (xx - mx[v]) * ws3;
                            part[j * 4 + q] += g[v] * weight[tap];
                        }
                    }
                }
            }
            #[unroll]
            for q in 0..4usize {
                sums[j * 4 + q] += part[j * 4 + q];
            }
        }
    }
    #[unroll]
    for j in 0..cb {
        if ci0 + j < c {
            #[unroll]
            for q in 0..4usize {
                let (yy, xx) = (t * 2 + q / 2, u * 2 + q % 2);
                if yy >= pad && yy - pad < h && xx >= pad && xx - pad < w {
                    gx[((bi * c + ci0 + j) * h + yy - pad) * w + xx - pad] = sums[j * 4 + q];
                }
            }
        }
    }
}
