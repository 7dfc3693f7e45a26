//! The 3x3 convolution (stride 1, padding 0 or 1, with bias, ReLU or not, of the input or of
//! the input up-sampled 2x, max-pooled 2x2 after or not) as CubeCL kernels (`forward.rs`,
//! `backward.rs`; their launches here): the output in one launch (a unit per 2x2 block of
//! outputs, or per pool window, in up to eight output channels, reading the 4x4 patch of
//! input they share once), the input, weight and bias gradients together in another (the
//! input's in blocks of up to eight input channels). With ReLU, the gradient kernel reads the
//! output for its mask; with the pool, which output is each window's maximum, as the forward
//! recorded it (the output before the pool is not stored); with the up-sampling, the kernels
//! read the small input where the large image would repeat it: none of them needs a launch of
//! its own.
//!
//! Inputs are read through their strides, so the NCHW views of NHWC memory that Burn's own
//! convolutions hand back need no copy first; outputs are contiguous NCHW. The weight and bias
//! gradients are sums over the batch and the image: one cube per pair of output and input
//! channels (its nine weights) and per bias, each unit summing a strided share, then a tree in
//! shared memory (a pair's nine sums halving together), always in the same order; the input
//! gradient's cubes follow theirs in the same launch. A sum over more than `sums::SPAN`
//! positions (16 a unit) is split into parts, a cube each, which a second launch adds: a GPU
//! runs a cube on one multiprocessor, and 32 cubes for conv-ae's first layer at batch 1024
//! (800,000 positions each) would leave most of them idle.

mod backward;
mod forward;
mod input_grad;

use super::launch::{empty, grid, unit_block};
use super::sums::{GradSums, SUM_UNITS, SplitSum, sum_cubes};
use crate::shapes;
use backward::conv_grads_kernel;
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use forward::{conv_bce_kernel, conv_kernel, conv_pool_kernel};

/// The gradient arriving at the convolution's output: `grad`, masked by ReLU's rule on the
/// output `out` when the convolution ends in ReLU, or the pooled output's `grad` routed to
/// each window's first maximum, which `out` names, when it ends in the pool (else `out` is not
/// read); or, after the mean loss ([`conv3x3_bce_mean`]), the residuals it kept times the
/// mean's gradient over their count.
#[derive(Clone)]
pub struct OutGrad {
    /// The convolution's output (after ReLU); with the pool, the `arg` of [`conv3x3_pool`].
    pub out: CubeTensor,
    /// The gradient of the output; after the mean loss, its residuals `sigmoid(z) - t`.
    pub grad: CubeTensor,
    /// After the mean loss (no ReLU, no pool), the mean's gradient, `[1]`; else `None`.
    pub mean: Option<CubeTensor>,
}

/// How many of the `o` output channels one unit of the forward kernels takes (or of the input
/// channels, one unit of the input gradient's blocks; the transposed convolution's alike),
/// where `units(channels)` is the grid that makes ([`unit_block`]): at most 8, and no more
/// than the channels (rounded up to a power of two). On lavapipe, eight channels against one
/// took conv-ae's forward kernels from about 380 to 206 ms a step (2026-12-07).
pub(super) fn channels_for(like: &CubeTensor, o: usize, units: impl Fn(usize) -> usize) -> usize {
    unit_block(like, o.next_power_of_two().min(8), units)
}

/// The forward's output channels a unit ([`channels_for`]) and its grid's units, for the output
/// `out`: a unit per 2x2 block of outputs in that many channels.
fn block_grid(x: &CubeTensor, out: &CubeTensor) -> (usize, usize) {
    let [b, o, oh, ow] = out.shape().dims::<4>();
    let units = |ob: usize| b * o.div_ceil(ob) * oh.div_ceil(2) * ow.div_ceil(2);
    let ob = channels_for(x, o, units);
    (ob, units(ob))
}

/// The shape of the convolution: how much padding, whether the input is up-sampled 2x
/// (nearest) first, whether ReLU follows.
#[derive(Clone, Copy, Debug)]
pub struct Conv {
    /// Zeros on every side: 0 or 1.
    pub pad: usize,
    /// Whether the image convolved is the input up-sampled 2x.
    pub up: bool,
    /// Whether the output goes through `max(., 0)`.
    pub relu: bool,
    /// Whether the output is max-pooled 2x2 after (the gradient is the pooled output's).
    pub pool: bool,
}

impl Conv {
    /// How many times the input is up-sampled: 1 or 2.
    fn scale(self) -> usize {
        if self.up { 2 } else { 1 }
    }
}

/// `x` `[b, c, h, w]`, `weight` `[o, c, 3, 3]`, `bias` `[o]` -> `[b, o, s h + 2 pad - 2,
/// s w + 2 pad - 2]` (`s` 2 if `up`, else 1), contiguous, through `max(., 0)` if `relu`.
pub fn conv3x3(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, conv: Conv) -> CubeTensor {
    let out = empty(&x, out_shape(&x, &weight, conv));
    let (pad, scale) = (conv.pad, conv.scale());
    let (ob, n) = block_grid(&x, &out);
    if n > 0 {
        let (count, dim) = grid(&x, n);
        let dtype = dtype_to_storage_type(x.dtype);
        conv_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            pad,
            scale,
            conv.relu,
            ob,
            dtype,
        );
    }
    out
}

/// [`conv3x3`] without ReLU (its logits `z`) and the mean over all of them of BCE-with-logits
/// against `t` (shaped as the output), in one launch and a second where the loss's parts are
/// more than one cube's (`sums::SplitSum`): `(residuals, [1] mean)`, the residuals
/// `sigmoid(z) - t` (contiguous, shaped as the output) being what the backward reads
/// ([`OutGrad::mean`]). A unit per 2x2 block of logits in `ob` channels, as [`conv3x3`].
pub fn conv3x3_bce_mean(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    t: CubeTensor,
    pad: usize,
    up: bool,
) -> (CubeTensor, CubeTensor) {
    let conv = Conv {
        pad,
        up,
        relu: false,
        pool: false,
    };
    let out = empty(&x, out_shape(&x, &weight, conv));
    let (ob, units) = block_grid(&x, &out);
    let parts = units.div_ceil(SUM_UNITS).max(1);
    let n = out.shape().num_elements();
    let mean = SplitSum::new(&x, parts, n.max(1));
    let dtype = dtype_to_storage_type(x.dtype);
    conv_bce_kernel::launch(
        &x.client.clone(),
        sum_cubes(parts),
        CubeDim::new_1d(SUM_UNITS as u32),
        x.into_tensor_arg(),
        weight.into_tensor_arg(),
        bias.into_tensor_arg(),
        t.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        mean.target.clone().into_tensor_arg(),
        pad,
        conv.scale(),
        mean.div,
        ob,
        dtype,
    );
    (out, mean.finish())
}

/// The output's shape ([`shapes::conv3x3`], what fusion registers for the op).
fn out_shape(x: &CubeTensor, weight: &CubeTensor, conv: Conv) -> Shape {
    shapes::conv3x3(&x.shape(), &weight.shape(), &conv.pad, &conv.up)
}

/// [`conv3x3`] and its output max-pooled 2x2 (rounding up), in one launch: `(arg, pooled)`,
/// `arg` shaped as `pooled` and holding each window's first maximum, or that ReLU cut it
/// (`forward::conv_pool_kernel`): what the backward reads, in place of the output before the
/// pool, which is not stored.
pub fn conv3x3_pool(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    conv: Conv,
) -> (CubeTensor, CubeTensor) {
    let shape = out_shape(&x, &weight, conv);
    let [_, _, oh, ow] = shape.dims::<4>();
    let pooled = empty(&x, shapes::pooled(&shape));
    let arg = empty(&x, pooled.shape());
    // A unit per pooled output in `ob` channels.
    let [b, o, ph, pw] = pooled.shape().dims::<4>();
    let units = |ob: usize| b * o.div_ceil(ob) * ph * pw;
    let ob = channels_for(&x, o, units);
    let n = units(ob);
    if n > 0 {
        let (count, dim) = grid(&x, n);
        let dtype = dtype_to_storage_type(x.dtype);
        conv_pool_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            arg.clone().into_tensor_arg(),
            pooled.clone().into_tensor_arg(),
            oh,
            ow,
            conv.pad,
            conv.scale(),
            conv.relu,
            ob,
            dtype,
        );
    }
    (arg, pooled)
}

/// The gradients of [`conv3x3`] for the output gradient `dy`, in one launch: the input's
/// (shaped as `x`) if `need_x`, the weight's and the bias's (`[o, c, 3, 3]`, `[o]`) if
/// `need_w`; `None` for those not wanted.
#[allow(
    clippy::type_complexity,
    reason = "the three gradients, each there only when asked for"
)]
pub fn conv3x3_grads(
    x: CubeTensor,
    weight: CubeTensor,
    dy: OutGrad,
    conv: Conv,
    need_x: bool,
    need_w: bool,
) -> (Option<CubeTensor>, Option<(CubeTensor, CubeTensor)>) {
    let [o, c, _, _] = weight.shape().dims::<4>();
    // The positions each sum runs over (with the pool its windows, else 2x2 blocks of
    // outputs).
    let [b, _, rows, cols] = dy.grad.shape().dims::<4>();
    let n = backward::sum_positions(b, rows, cols, conv.pool);
    let g = GradSums::new(&x, &weight, o, n, need_x, need_w);
    // A unit per input; pooled without up-sampling, per 2x2 block of the padded image's inputs
    // in `cb` channels (`input_grad::grad_x_pooled_block`); up-sampled without the pool, per
    // 2x2 block of inputs in `cb` channels (`grad_x_up2_block`).
    let [bs, _, h, w] = x.shape().dims::<4>();
    let blocks = |n: usize| (n + conv.pad).div_ceil(2);
    let units = |cb: usize| match (need_x && bs * c * h * w > 0, conv.pool, conv.up) {
        (false, _, _) => 0,
        (true, true, false) => bs * c.div_ceil(cb) * blocks(h) * blocks(w),
        (true, false, true) => bs * c.div_ceil(cb) * h.div_ceil(2) * w.div_ceil(2),
        (true, _, _) => bs * c * h * w,
    };
    let cb = channels_for(&x, c, units);
    let nx = units(cb);
    let cubes = g.cubes(nx);
    let div = dy.grad.shape().num_elements().max(1);
    let (mean, bce) = match dy.mean {
        Some(mean) => (mean, true),
        None => (empty(&x, Shape::new([1])), false),
    };
    if cubes > 0 {
        let dtype = dtype_to_storage_type(x.dtype);
        conv_grads_kernel::launch(
            &x.client.clone(),
            sum_cubes(cubes),
            CubeDim::new_1d(SUM_UNITS as u32),
            x.into_tensor_arg(),
            dy.grad.into_tensor_arg(),
            dy.out.into_tensor_arg(),
            weight.into_tensor_arg(),
            g.gx.clone().into_tensor_arg(),
            g.gw.clone().into_tensor_arg(),
            g.gb.clone().into_tensor_arg(),
            g.partial.clone().into_tensor_arg(),
            mean.into_tensor_arg(),
            conv.pad,
            conv.scale(),
            div,
            g.sums,
            g.parts,
            g.span,
            n,
            nx,
            conv.relu,
            conv.pool,
            bce,
            cb,
            dtype,
        );
    }
    g.finish()
}
