//! The convolution's forward kernels (device code): the output, and the output with its 2x2
//! max-pool; their launches are in `mod.rs`.

use cubecl::prelude::*;

/// The output `[bi, oi, oy, ox]` of the convolution into `out`'s shape: the bias plus the sum
/// over the input channels and the 3x3 window (taps outside the image are the padding's
/// zeros), then `max(., 0)` if `relu`. The image convolved is `x` up-sampled `scale` times (1
/// or 2; nearest: pixel `(y, x)` of the image is `x`'s `(y / scale, x / scale)`).
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the position and the convolution's shape"
)]
fn conv_at<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    bi: usize,
    oi: usize,
    oy: usize,
    ox: usize,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
) -> F {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let mut sum = bias[oi * bias.stride(0)];
    let (xs1, xs2, xs3) = (x.stride(1), x.stride(2), x.stride(3));
    let (ws1, ws2, ws3) = (weight.stride(1), weight.stride(2), weight.stride(3));
    let xb = bi * x.stride(0);
    let wb = oi * weight.stride(0);
    for ci in 0..c {
        let xc = xb + ci * xs1;
        let wc = wb + ci * ws1;
        #[unroll]
        for ky in 0..3usize {
            let iy = oy + ky;
            if iy >= pad && iy - pad < h {
                let xr = xc + (iy - pad) / scale * xs2;
                #[unroll]
                for kx in 0..3usize {
                    let ix = ox + kx;
                    if ix >= pad && ix - pad < w {
                        sum += x[xr + (ix - pad) / scale * xs3] * weight[wc + ky * ws2 + kx * ws3];
                    }
                }
            }
        }
    }
    if relu {
        sum = sum.max(F::new(0.0));
    }
    sum
}

/// One unit per output `[b, o, oy, ox]` of the contiguous `out` ([`conv_at`]).
#[cube(launch)]
pub(super) fn conv_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    let (o, oh, ow) = (out.shape(1), out.shape(2), out.shape(3));
    let ox = i % ow;
    let oy = i / ow % oh;
    let oi = i / (ow * oh) % o;
    let bi = i / (ow * oh * o);
    out[i] = conv_at(x, weight, bias, bi, oi, oy, ox, pad, scale, relu);
}

/// One unit per output `[b, o, py, px]` of the contiguous, max-pooled `pooled`: the maximum of
/// the (up to) four outputs of its 2x2 window ([`conv_at`]) into `pooled`, and into `arg` (the
/// same shape) which of them is the window's first maximum, row-major (later outputs win only
/// when strictly larger: 0 top-left, 1 right of it, 2 below, 3 below right, as
/// `launch::first_max_in_window` finds it), or [`CUT`] where ReLU cut the window (its maximum
/// is 0: no gradient passes). The backward reads `arg` where it would otherwise search the
/// window again, and the output before the pool is not stored at all.
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
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= pooled.len() {
        terminate!();
    }
    let o = pooled.shape(1);
    let (ph, pw) = (pooled.shape(2), pooled.shape(3));
    let px = i % pw;
    let py = i / pw % ph;
    let oi = i / (pw * ph) % o;
    let bi = i / (pw * ph * o);
    let (y0, x0) = (py * 2, px * 2);
    let mut best = conv_at(x, weight, bias, bi, oi, y0, x0, pad, scale, relu);
    // The first maximum as first_max_in_window finds it (strictly larger wins), beside
    // `best`, which takes `max` as the pool does.
    let mut first = best;
    let mut k = 0usize;
    if x0 + 1 < ow {
        let v = conv_at(x, weight, bias, bi, oi, y0, x0 + 1, pad, scale, relu);
        best = best.max(v);
        if v > first {
            first = v;
            k = 1;
        }
    }
    if y0 + 1 < oh {
        let v = conv_at(x, weight, bias, bi, oi, y0 + 1, x0, pad, scale, relu);
        best = best.max(v);
        if v > first {
            first = v;
            k = 2;
        }
        if x0 + 1 < ow {
            let v = conv_at(x, weight, bias, bi, oi, y0 + 1, x0 + 1, pad, scale, relu);
            best = best.max(v);
            if v > first {
                first = v;
                k = 3;
            }
        }
    }
    if relu {
        if first <= F::new(0.0) {
            k = CUT;
        }
    }
    pooled[i] = best;
    arg[i] = F::cast_from(k);
}

/// In `arg` of [`conv_pool_kernel`]: a window whose maximum ReLU cut, which sends no gradient
/// back.
pub(super) const CUT: usize = 4;
