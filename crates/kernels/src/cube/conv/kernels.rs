//! The convolution's CubeCL kernels (device code): the output, the output with its 2x2
//! max-pool, and all the gradients in one launch; their launches are in `mod.rs`.

use super::super::launch::{SUM_UNITS, cube_sum, first_max_in_window};
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

/// The gradient arriving at the output `[bi, oi, oy, ox]` of `y` (the convolution's output,
/// after ReLU if `relu`). Without `pool`, `grad[g]`, masked by ReLU ([`masked`]; `yo` is the
/// output's offset in `y`). With `pool`, `grad` is the gradient of `y` max-pooled 2x2: the
/// output's window's gradient if the output is the window's first maximum (row-major), else 0
/// (and 0 where ReLU cut it).
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the offsets and the position, and the two flags"
)]
fn out_grad<F: Float>(
    grad: &Tensor<F>,
    y: &Tensor<F>,
    g: usize,
    yo: usize,
    bi: usize,
    oi: usize,
    oy: usize,
    ox: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
) -> F {
    let mut r = F::new(0.0);
    if pool {
        let (oh, ow) = (y.shape(2), y.shape(3));
        let (s2, s3) = (y.stride(2), y.stride(3));
        let (y0, x0) = (oy / 2 * 2, ox / 2 * 2);
        let corner = bi * y.stride(0) + oi * y.stride(1) + y0 * s2 + x0 * s3;
        let k = first_max_in_window(y, corner, s2, s3, x0 + 1 < ow, y0 + 1 < oh);
        let at = corner + k / 2 * s2 + k % 2 * s3;
        if at == yo && (!relu || y[at] > F::new(0.0)) {
            r = grad[bi * grad.stride(0)
                + oi * grad.stride(1)
                + oy / 2 * grad.stride(2)
                + ox / 2 * grad.stride(3)];
        }
    } else {
        r = masked(grad, y, g, yo, relu);
    }
    r
}

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

/// One unit per output `[b, o, py, px]` of the contiguous, max-pooled `pooled`: the (up to)
/// four outputs of its 2x2 window ([`conv_at`]) into the contiguous `out`, their maximum into
/// `pooled`.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape"
)]
pub(super) fn conv_pool_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    pooled: &mut Tensor<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= pooled.len() {
        terminate!();
    }
    let (o, oh, ow) = (out.shape(1), out.shape(2), out.shape(3));
    let (ph, pw) = (pooled.shape(2), pooled.shape(3));
    let px = i % pw;
    let py = i / pw % ph;
    let oi = i / (pw * ph) % o;
    let bi = i / (pw * ph * o);
    let (y0, x0) = (py * 2, px * 2);
    let base = ((bi * o + oi) * oh + y0) * ow + x0;
    let mut best = conv_at(x, weight, bias, bi, oi, y0, x0, pad, scale, relu);
    out[base] = best;
    if x0 + 1 < ow {
        let v = conv_at(x, weight, bias, bi, oi, y0, x0 + 1, pad, scale, relu);
        out[base + 1] = v;
        best = best.max(v);
    }
    if y0 + 1 < oh {
        let v = conv_at(x, weight, bias, bi, oi, y0 + 1, x0, pad, scale, relu);
        out[base + ow] = v;
        best = best.max(v);
        if x0 + 1 < ow {
            let v = conv_at(x, weight, bias, bi, oi, y0 + 1, x0 + 1, pad, scale, relu);
            out[base + ow + 1] = v;
            best = best.max(v);
        }
    }
    pooled[i] = best;
}

/// The input gradient at input `i` (`[b, c, sy, sx]` of a contiguous tensor shaped as `x`): the sum over
/// the output channels and the 3x3 taps of the output gradient times the weight that carried
/// this input there, over the `scale` x `scale` pixels of the up-sampled image it stands for.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
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
    let (o, oh, ow) = (y.shape(1), y.shape(2), y.shape(3));
    let sx = i % w;
    let sy = i / w % h;
    let ci = i / (w * h) % c;
    let bi = i / (w * h * c);
    let mut sum = F::new(0.0);
    let (gs0, gs1, gs2, gs3) = (
        grad.stride(0),
        grad.stride(1),
        grad.stride(2),
        grad.stride(3),
    );
    let (ys0, ys1, ys2, ys3) = (y.stride(0), y.stride(1), y.stride(2), y.stride(3));
    let (ws0, ws1, ws2, ws3) = (
        weight.stride(0),
        weight.stride(1),
        weight.stride(2),
        weight.stride(3),
    );
    for p in 0..scale * scale {
        let yy = sy * scale + p / scale + pad;
        let xx = sx * scale + p % scale + pad;
        for oi in 0..o {
            let (gb, yb) = (bi * gs0 + oi * gs1, bi * ys0 + oi * ys1);
            let wb = oi * ws0 + ci * ws1;
            #[unroll]
            for ky in 0..3usize {
                if yy >= ky && yy - ky < oh {
                    let (gr, yr) = (gb + (yy - ky) * gs2, yb + (yy - ky) * ys2);
                    #[unroll]
                    for kx in 0..3usize {
                        if xx >= kx && xx - kx < ow {
                            let (g, yo) = (gr + (xx - kx) * gs3, yr + (xx - kx) * ys3);
                            let (oy, ox) = (yy - ky, xx - kx);
                            let d = out_grad(grad, y, g, yo, bi, oi, oy, ox, relu, pool);
                            sum += d * weight[wb + ky * ws2 + kx * ws3];
                        }
                    }
                }
            }
        }
    }
    sum
}

/// This unit's share of the sum that cube `cube` computes: for a weight `[o, c, ky, kx]` (the
/// first `o * c * 9` cubes) the output gradient times the input it saw, for a bias (the next
/// `o`) the output gradient, over every `SUM_UNITS`-th position of the batch and the image.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the convolution's shape, as the kernel's"
)]
fn grad_w_share<F: Float>(
    cube: usize,
    unit: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    pad: usize,
    scale: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
) -> F {
    let (c, h, w) = (x.shape(1), x.shape(2) * scale, x.shape(3) * scale);
    let (b, o, oh, ow) = (y.shape(0), y.shape(1), y.shape(2), y.shape(3));
    let weights = o * c * 9;
    let n = b * oh * ow;
    let (gs0, gs1, gs2, gs3) = (
        grad.stride(0),
        grad.stride(1),
        grad.stride(2),
        grad.stride(3),
    );
    let (ys0, ys1, ys2, ys3) = (y.stride(0), y.stride(1), y.stride(2), y.stride(3));
    let (xs0, xs1, xs2, xs3) = (x.stride(0), x.stride(1), x.stride(2), x.stride(3));
    let mut sum = F::new(0.0);
    if cube < weights {
        let (kx, ky) = (cube % 3, cube / 3 % 3);
        let ci = cube / 9 % c;
        let oi = cube / (9 * c);
        for p in range_stepped(unit, n, SUM_UNITS) {
            let ox = p % ow;
            let oy = p / ow % oh;
            let bi = p / (ow * oh);
            let (iy, ix) = (oy + ky, ox + kx);
            if iy >= pad && iy - pad < h && ix >= pad && ix - pad < w {
                let g = bi * gs0 + oi * gs1 + oy * gs2 + ox * gs3;
                let yo = bi * ys0 + oi * ys1 + oy * ys2 + ox * ys3;
                let xo = bi * xs0 + ci * xs1 + (iy - pad) / scale * xs2 + (ix - pad) / scale * xs3;
                sum += out_grad(grad, y, g, yo, bi, oi, oy, ox, relu, pool) * x[xo];
            }
        }
    } else {
        let oi = cube - weights;
        for p in range_stepped(unit, n, SUM_UNITS) {
            let ox = p % ow;
            let oy = p / ow % oh;
            let bi = p / (ow * oh);
            let g = bi * gs0 + oi * gs1 + oy * gs2 + ox * gs3;
            let yo = bi * ys0 + oi * ys1 + oy * ys2 + ox * ys3;
            sum += out_grad(grad, y, g, yo, bi, oi, oy, ox, relu, pool);
        }
    }
    sum
}

/// All the gradients in one launch of cubes of `SUM_UNITS` units. The first `sums` cubes (0
/// when the weight's are not wanted, else one per weight and one per bias) each sum one
/// weight's or bias's gradient: every unit a strided share ([`grad_w_share`]), then the cube
/// adds the units' shares pairwise in shared memory, always in the same order. The cubes after
/// them give the input gradient, one unit per input of `gx` (`nx` of them; 0 when not wanted).
/// Every unit of every cube reaches the same barriers.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the convolution's shape and the two counts"
)]
pub(super) fn conv_grads_kernel<F: Float>(
    x: &Tensor<F>,
    grad: &Tensor<F>,
    y: &Tensor<F>,
    weight: &Tensor<F>,
    gx: &mut Tensor<F>,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    pad: usize,
    scale: usize,
    sums: usize,
    nx: usize,
    #[comptime] relu: bool,
    #[comptime] pool: bool,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    let mut share = F::new(0.0);
    if cube < sums {
        share = grad_w_share(cube, unit, x, grad, y, pad, scale, relu, pool);
    } else {
        let i = (cube - sums) * SUM_UNITS + unit;
        if i < nx {
            let g = grad_x_at(i, grad, y, weight, x, pad, scale, relu, pool);
            gx[i] = g;
        }
    }
    let total = cube_sum::<F>(share, unit);
    if unit == 0 && cube < sums {
        let weights = gw.len();
        if cube < weights {
            gw[cube] = total;
        } else {
            gb[cube - weights] = total;
        }
    }
}
