//! The 3x3 transposed convolution of stride 2 (padding 1, output padding 1: exactly twice the
//! side; PyTorch's `ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1)`, weight
//! `[c, o, 3, 3]`) as CubeCL kernels, with ReLU after it or not: the output (and ReLU) in one
//! launch, the input, weight and bias gradients together in another (and a third that adds a
//! split sum's parts; with ReLU, one before them that masks the output gradient), where Burn's
//! layer takes about eleven launches a step, most of them copies into the layout its matrix
//! product wants, and ReLU one more each way.
//!
//! ReLU's mask is a launch of its own, not read in the gradient kernel: there every pair of
//! channels' weight sums reads each output gradient again (nine taps an input position), and
//! the mask read with each made the wide net's step 10-16% slower on lavapipe than the launch
//! it saved (ms per step at batch 128, 2026-12-07, the 2-core build machine; the README has
//! the figures).
//!
//! Input `(i, j)` reaches outputs `(2 i - 1 + ky, 2 j - 1 + kx)` through tap `(ky, kx)`. So the
//! output's 2x2 block at `(2 m, 2 n)` reads only the inputs `(m, n)`, `(m, n + 1)`, `(m + 1,
//! n)` and `(m + 1, n + 1)`: even rows through tap row 1 alone, odd rows through tap rows 2
//! (from input row `m`) and 0 (from `m + 1`); the same for columns. A unit of the forward
//! takes such a block in up to eight output channels; a unit of the input gradient takes an
//! input position in up to eight input channels, which read the 3x3 patch of output gradients
//! around `(2 i, 2 j)` (a stride-2 convolution with the same weights) once for all of them; as
//! many as `conv::channels_for` gives, as for the convolution. Inputs, weights and gradients
//! are read through their strides; outputs are contiguous.

use super::conv::channels_for;
use super::launch::{empty, grid, strides};
use super::sums::{GradSums, SUM_UNITS, store_sums, sum_cubes};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// One unit per input position `[b, g, m, n]` (`g` a group of `ob` output channels, from `g
/// ob`): the output's 2x2 block at `(2 m, 2 n)` in each of those channels, each the bias plus,
/// input channel by input channel, the terms of the (one, two or four) inputs that reach it,
/// then `max(., 0)` if `relu`, into the contiguous `out`. The four inputs are read once for
/// all `ob` channels. Channels past the last read the last one's weights again and store
/// nothing.
#[cube(launch)]
fn up_kernel<F: Float>(
    x: &Tensor<F>,
    weight: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] ob: usize,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let o = out.shape(1);
    let groups = o.div_ceil(ob);
    let i = ABSOLUTE_POS;
    let (n, m) = (i % w, i / w % h);
    let (oi0, bi) = (i / (w * h) % groups * ob, i / (w * h * groups));
    if bi >= out.shape(0) {
        terminate!();
    }
    let (xs0, xs1, xs2, xs3) = strides(x);
    let (ws0, ws1, ws2, ws3) = strides(weight);
    let (right, below) = (n + 1 < w, m + 1 < h);
    let zero = F::new(0.0);
    // ys[j * 4 + a * 2 + e]: channel oi0 + j's output (2 m + a, 2 n + e).
    let mut ys = Array::<F>::new(4 * ob);
    #[unroll]
    for j in 0..ob {
        let b0 = bias[(oi0 + j).min(o - 1) * bias.stride(0)];
        #[unroll]
        for q in 0..4usize {
            ys[j * 4 + q] = b0;
        }
    }
    let mut k = Array::<F>::new(9usize);
    for ci in 0..c {
        let xb = bi * xs0 + ci * xs1 + m * xs2 + n * xs3;
        let x00 = x[xb];
        let mut x01 = zero;
        let mut x10 = zero;
        let mut x11 = zero;
        if right {
            x01 = x[xb + xs3];
        }
        if below {
            x10 = x[xb + xs2];
            if right {
                x11 = x[xb + xs2 + xs3];
            }
        }
        #[unroll]
        for j in 0..ob {
            let wb = ci * ws0 + (oi0 + j).min(o - 1) * ws1;
            #[unroll]
            for t in 0..9usize {
                k[t] = weight[wb + t / 3 * ws2 + t % 3 * ws3];
            }
            ys[j * 4] += x00 * k[4];
            ys[j * 4 + 1] += x00 * k[5] + x01 * k[3];
            ys[j * 4 + 2] += x00 * k[7] + x10 * k[1];
            ys[j * 4 + 3] += x00 * k[8] + x01 * k[6] + x10 * k[2] + x11 * k[0];
        }
    }
    if relu {
        #[unroll]
        for q in 0..4 * ob {
            ys[q] = ys[q].max(zero);
        }
    }
    let ow = 2 * w;
    #[unroll]
    for j in 0..ob {
        if oi0 + j < o {
            let base = ((bi * o + oi0 + j) * 2 * h + 2 * m) * ow + 2 * n;
            out[base] = ys[j * 4];
            out[base + 1] = ys[j * 4 + 1];
            out[base + ow] = ys[j * 4 + 2];
            out[base + ow + 1] = ys[j * 4 + 3];
        }
    }
}

/// This unit's shares of sum `s` over every `SUM_UNITS`-th input position from `start`
/// (before `end`) of the batch and the input image (`[b, i, j]`, row-major), into `shares`:
/// for a pair of input and output channels (`s = ci * o + oi`, the first `c * o` sums), the
/// gradients of its nine weights `[ci, oi, ky, kx]` (the input times the output gradient each
/// tap reached) in `shares[ky * 3 + kx]`, an input of 0 skipped; for a bias (`oi = s - c o`),
/// the output gradients of the position's 2x2 block in `shares[0]` (the blocks cover the
/// output once).
#[cube]
fn grad_w_shares<F: Float>(
    s: usize,
    start: usize,
    end: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    shares: &mut Array<F>,
) {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let o = grad.shape(1);
    let (xs0, xs1, xs2, xs3) = strides(x);
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let zero = F::new(0.0);
    #[unroll]
    for t in 0..9usize {
        shares[t] = zero;
    }
    let pairs = c * o;
    let weights = s < pairs;
    let mut ci = s / o;
    let mut oi = s % o;
    if !weights {
        ci = 0;
        oi = s - pairs;
    }
    for p in range_stepped(start, end, SUM_UNITS) {
        let (j, i, bi) = (p % w, p / w % h, p / (w * h));
        let gb = bi * gs0 + oi * gs1;
        if weights {
            let v = x[bi * xs0 + ci * xs1 + i * xs2 + j * xs3];
            if v != zero {
                // Output row 2 i - 1 + ky, kept unsigned as 2 i + ky; rows 2 i and 2 i + 1
                // are always inside the 2h rows, row 2 i - 1 only below the first.
                #[unroll]
                for ky in 0..3usize {
                    if ky > 0 || i > 0 {
                        let gr = gb + (2 * i + ky - 1) * gs2;
                        #[unroll]
                        for kx in 0..3usize {
                            if kx > 0 || j > 0 {
                                shares[ky * 3 + kx] += v * grad[gr + (2 * j + kx - 1) * gs3];
                            }
                        }
                    }
                }
            }
        } else {
            let g = gb + 2 * i * gs2 + 2 * j * gs3;
            shares[0] += grad[g] + grad[g + gs3] + grad[g + gs2] + grad[g + gs2 + gs3];
        }
    }
}

/// The input gradients of unit `at`, an input position `[b, g, i, j]` in a group of `cb`
/// input channels (from `g cb`), into the contiguous `gx` (shaped as `x`): each, output
/// channel by output channel, the output gradients of the 3x3 patch around `(2 i, 2 j)`
/// (inside the output) times the weights `[ci, oi, ky, kx]` that joined them. The patch is
/// read once for all `cb` channels. Channels past the last read the last one's weights again
/// and store nothing.
#[cube]
fn grad_x_block<F: Float>(
    at: usize,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    weight: &Tensor<F>,
    gx: &mut Tensor<F>,
    #[comptime] cb: usize,
) {
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let o = grad.shape(1);
    let groups = c.div_ceil(cb);
    let (j, i) = (at % w, at / w % h);
    let (ci0, bi) = (at / (w * h) % groups * cb, at / (w * h * groups));
    let (gs0, gs1, gs2, gs3) = strides(grad);
    let (ws0, ws1, ws2, ws3) = strides(weight);
    let zero = F::new(0.0);
    let mut sums = Array::<F>::new(cb);
    #[unroll]
    for q in 0..cb {
        sums[q] = zero;
    }
    // d[ky * 3 + kx]: the gradient of output (2 i - 1 + ky, 2 j - 1 + kx), 0 outside.
    let mut d = Array::<F>::new(9usize);
    for oi in 0..o {
        let gb = bi * gs0 + oi * gs1;
        #[unroll]
        for t in 0..9usize {
            let (ky, kx) = (t / 3, t % 3);
            d[t] = zero;
            if (ky > 0 || i > 0) && (kx > 0 || j > 0) {
                d[t] = grad[gb + (2 * i + ky - 1) * gs2 + (2 * j + kx - 1) * gs3];
            }
        }
        #[unroll]
        for q in 0..cb {
            let wb = (ci0 + q).min(c - 1) * ws0 + oi * ws1;
            // Taps outside the output have d[t] = 0: their terms add nothing.
            #[unroll]
            for t in 0..9usize {
                sums[q] += d[t] * weight[wb + t / 3 * ws2 + t % 3 * ws3];
            }
        }
    }
    #[unroll]
    for q in 0..cb {
        if ci0 + q < c {
            gx[((bi * c + ci0 + q) * h + i) * w + j] = sums[q];
        }
    }
}

/// All the gradients in one launch of cubes of `SUM_UNITS` units, as the convolution's
/// (`conv::backward::conv_grads_kernel`): the first `sums * parts` cubes sum the weight and
/// bias gradients (`sums` 0 when not wanted, else `c o` pairs and `o` biases), cube `s * parts
/// + k` over input positions `k * span ..` (`positions` in all), each unit a strided share
/// ([`grad_w_shares`]) and then [`store_sums`], which adds a pair's nine taps together and
/// stores them, with one part straight into `gw` and `gb`, with more into `partial` (value
/// `v`'s part `k` at `v * parts + k`) for a second launch to add. The cubes after them give the
/// input gradient, a unit per input position in `cb` input channels ([`grad_x_block`]; `nx`
/// units, 0 when not wanted). Whether a cube sums is the same for all its units, so all of
/// them reach the same barriers.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors and the counts of the sums and their parts"
)]
fn up_grads_kernel<F: Float>(
    x: &Tensor<F>,
    grad: &Tensor<F>,
    weight: &Tensor<F>,
    gx: &mut Tensor<F>,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    sums: usize,
    parts: usize,
    span: usize,
    positions: usize,
    nx: usize,
    #[comptime] cb: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    if cube < sums * parts {
        let (s, k) = (cube / parts, cube % parts);
        let start = k * span;
        let end = (start + span).min(positions);
        let mut shares = Array::<F>::new(9usize);
        grad_w_shares(s, start + unit, end, x, grad, &mut shares);
        store_sums(&mut shares, s, k, parts, unit, gw, gb, partial);
    } else {
        let i = (cube - sums * parts) * SUM_UNITS + unit;
        if i < nx {
            grad_x_block(i, x, grad, weight, gx, cb);
        }
    }
}

/// `x` `[b, c, h, w]`, `weight` `[c, o, 3, 3]`, `bias` `[o]` -> `[b, o, 2 h, 2 w]`, contiguous,
/// through `max(., 0)` if `relu`.
pub fn conv_transpose3x3s2(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    relu: bool,
) -> CubeTensor {
    let [b, _, h, w] = x.shape().dims::<4>();
    let o = weight.shape()[1];
    let out = empty(&x, Shape::new([b, o, 2 * h, 2 * w]));
    let units = |ob: usize| b * o.div_ceil(ob) * h * w;
    let ob = channels_for(&x, o, units);
    let n = units(ob);
    if n > 0 {
        let (count, dim) = grid(&x, n);
        let dtype = dtype_to_storage_type(x.dtype);
        up_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            ob,
            relu,
            dtype,
        );
    }
    out
}

/// The gradients of [`conv_transpose3x3s2`] for the output gradient `grad` (with ReLU, already
/// masked: `relu_mask.rs`), in one launch (two where a weight's sum is split into parts): the
/// input's (shaped as `x`) if `need_x`, the weight's and the bias's (`[c, o, 3, 3]`, `[o]`) if
/// `need_w`; `None` for those not wanted.
#[allow(
    clippy::type_complexity,
    reason = "the three gradients, each there only when asked for"
)]
pub fn conv_transpose3x3s2_grads(
    x: CubeTensor,
    weight: CubeTensor,
    grad: CubeTensor,
    need_x: bool,
    need_w: bool,
) -> (Option<CubeTensor>, Option<(CubeTensor, CubeTensor)>) {
    let [c, o, _, _] = weight.shape().dims::<4>();
    let [b, _, h, w] = x.shape().dims::<4>();
    let positions = b * h * w;
    let g = GradSums::new(&x, &weight, o, positions, need_x, need_w);
    let units = |cb: usize| b * c.div_ceil(cb) * h * w;
    let cb = channels_for(&x, c, units);
    let nx = if need_x { units(cb) } else { 0 };
    let cubes = g.cubes(nx);
    if cubes > 0 {
        let dtype = dtype_to_storage_type(x.dtype);
        up_grads_kernel::launch(
            &x.client.clone(),
            sum_cubes(cubes),
            CubeDim::new_1d(SUM_UNITS as u32),
            x.into_tensor_arg(),
            grad.into_tensor_arg(),
            weight.into_tensor_arg(),
            g.gx.clone().into_tensor_arg(),
            g.gw.clone().into_tensor_arg(),
            g.gb.clone().into_tensor_arg(),
            g.partial.clone().into_tensor_arg(),
            g.sums,
            g.parts,
            g.span,
            positions,
            nx,
            cb,
            dtype,
        );
    }
    g.finish()
}
