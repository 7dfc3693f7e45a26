//! The fully connected layer (`x [b, n] · weight [n, o] + bias [o]`, ReLU or not) as CubeCL
//! kernels, with their launches: the output in one launch (a unit per eight outputs of a row,
//! each the bias and then the `n` products added in order), and the input, weight and bias
//! gradients together in another (a unit per bias gradient and per block of eight weight or
//! input gradients, each a sum in order over the batch or the outputs; with ReLU the unit reads
//! the output for its mask; after the loss, the residual the forward kept). Burn's layer takes
//! a matrix product and an element-wise kernel forward, two products and a reduction
//! backward: five launches where these take two. Inputs are read through their strides (a
//! transposed weight needs no copy); outputs are contiguous.

use super::launch::{SUM_UNITS, SplitSum, cube_sum, empty, grid, sum_cubes};
use super::loss::bce;
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// The layer's output `[r, j]` before any activation: `bias[j]`, then `x[r, k] w[k, j]` added
/// for `k` in order.
#[cube]
pub(super) fn product_at<F: Float>(
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

/// The layer's outputs `[r, j0 + q]` for `q` below [`BLOCK`], before any activation, into
/// `sums`, each as [`product_at`] gives it (the bias, then the products added in order), the
/// row's `x[r, k]` read once for the block. Columns past the last one read the last one
/// again; what they give is not to be stored.
#[cube]
fn products_at<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    r: usize,
    j0: usize,
    sums: &mut Array<F>,
) {
    let last = w.shape(1) - 1;
    let (xs0, xs1) = (x.stride(0), x.stride(1));
    let (ws0, ws1) = (w.stride(0), w.stride(1));
    let xr = r * xs0;
    #[unroll]
    for q in 0..BLOCK {
        sums[q] = bias[(j0 + q).min(last) * bias.stride(0)];
    }
    for k in 0..x.shape(1) {
        let xk = x[xr + k * xs1];
        let wk = k * ws0;
        #[unroll]
        for q in 0..BLOCK {
            sums[q] += xk * w[wk + (j0 + q).min(last) * ws1];
        }
    }
}

/// One unit per row `r` and block of [`BLOCK`] columns `j` of the contiguous `out` `[b, o]`
/// ([`products_at`]), through `max(., 0)` if `relu`.
#[cube(launch)]
fn linear_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let o = out.shape(1);
    let blocks = o.div_ceil(BLOCK);
    if p >= out.shape(0) * blocks {
        terminate!();
    }
    let (r, j0) = (p / blocks, p % blocks * BLOCK);
    let mut sums = Array::<F>::new(BLOCK);
    products_at(x, w, bias, r, j0, &mut sums);
    #[unroll]
    for q in 0..BLOCK {
        if j0 + q < o {
            let mut y = sums[q];
            if relu {
                y = y.max(F::new(0.0));
            }
            out[r * o + j0 + q] = y;
        }
    }
}

/// Cubes of `SUM_UNITS` units, one unit per row `r` and block of [`BLOCK`] logits `[r, j]`
/// ([`products_at`]): their residuals `sigmoid(z) - t` into the contiguous `out` `[b, o]` (the
/// loss's gradient at the logit but for the mean's factor: what the backward reads), and cube
/// `k`'s share of the loss: the BCE-with-logits of its units' logits against `t` ([`bce`]),
/// a unit's added in order, summed in the cube ([`cube_sum`]) and divided by `div`, into
/// `partial[k]`.
#[cube(launch)]
fn linear_bce_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    bias: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    partial: &mut Tensor<F>,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let cube = CUBE_POS;
    // Cubes past the last part (a grid of more than 65,535) leave, the whole cube at once.
    if cube >= partial.len() {
        terminate!();
    }
    let o = out.shape(1);
    let blocks = o.div_ceil(BLOCK);
    let p = cube * SUM_UNITS + unit;
    let mut loss = F::new(0.0);
    if p < out.shape(0) * blocks {
        let (r, j0) = (p / blocks, p % blocks * BLOCK);
        let mut sums = Array::<F>::new(BLOCK);
        products_at(x, w, bias, r, j0, &mut sums);
        let one = F::new(1.0);
        #[unroll]
        for q in 0..BLOCK {
            let j = j0 + q;
            if j < o {
                let z = sums[q];
                let target = t[r * t.stride(0) + j * t.stride(1)];
                out[r * o + j] = one / (one + (-z).exp()) - target;
                loss += bce::<F>(z, target);
            }
        }
    }
    let total = cube_sum::<F>(loss, unit);
    if unit == 0 {
        partial[cube] = total / F::cast_from(div);
    }
}

/// How many of the weight's rows (or of the input's columns) one unit of the gradient kernel
/// sums for: the gradient arriving at an output is read once for all of them. Also how many
/// outputs of a row one unit of the forward kernels gives: the row's input read once for them.
/// Eight ran faster than four on lavapipe (dense-ae's step 221 against 301 ms, 2026-12-07);
/// on a GPU, where a unit's loop is what waits, more outputs a unit cost little as long as the
/// grid still fills the device.
const BLOCK: usize = 8;

/// The gradient reaching the product at `[r, j]`. With `bce` the product is a logit whose
/// loss was averaged over `div` elements, and `out` its residual `sigmoid(z) - t`
/// ([`linear_bce_kernel`]): `out` times `scale`, the mean's gradient over its elements
/// ([`residual_factor`]), as the loss's own gradient kernel computes it. Else `grad`'s, or,
/// with `relu`, 0 where the output `out` is not positive (ReLU's rule, a select rather than a
/// branch). `out` is read only with one of the two.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the position and what follows"
)]
#[allow(
    unused_assignments,
    reason = "the cube macro needs the variable declared before the comptime branches assign it"
)]
fn arriving<F: Float>(
    grad: &Tensor<F>,
    out: &Tensor<F>,
    scale: F,
    r: usize,
    j: usize,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
) -> F {
    let mut g = F::new(0.0);
    if bce {
        g = out[r * out.stride(0) + j * out.stride(1)] * scale;
    } else {
        g = grad[r * grad.stride(0) + j * grad.stride(1)];
        if relu {
            let kept = out[r * out.stride(0) + j * out.stride(1)] > F::new(0.0);
            g = select(kept, g, F::new(0.0));
        }
    }
    g
}

/// With `bce`, the factor of each residual in the gradient (`grad[0] / div`, the mean's
/// gradient spread over its `div` elements), worked out once per unit, not once per term:
/// the same value, so the same sums to the bit. Else 0, not read.
#[cube]
#[allow(
    unused_assignments,
    reason = "the cube macro needs the variable declared before the comptime branch assigns it"
)]
fn residual_factor<F: Float>(grad: &Tensor<F>, div: usize, #[comptime] bce: bool) -> F {
    let mut s = F::new(0.0);
    if bce {
        s = grad[0] / F::cast_from(div);
    }
    s
}

/// In three stretches of the grid: the first `nw` units the weight's gradient, a unit per
/// output `j` and block of [`BLOCK`] rows `k` (`gw[k, j]`, the sum over the batch `r` of
/// `x[r, k]` times the arriving gradient [`arriving`]`(r, j)`, each arriving gradient read once
/// for the block); the next `nb` the bias's `gb[j]` (the sum over the batch of the arriving
/// gradient); the last `nx` the input's gradient, a unit per row `r` and block of [`BLOCK`]
/// columns `k` (`gx[r, k]`, the sum over the outputs `j` of the arriving gradient times
/// `w[k, j]`). Each sum is added in order, as one unit per element would (the same sums to the
/// bit); `nw` and `nb` are 0 when the weight's are not wanted, `nx` when the input's is not.
/// A block past the last row reads the last one again and stores nothing for it.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the stretches and what follows the layer"
)]
fn linear_grads_kernel<F: Float>(
    x: &Tensor<F>,
    w: &Tensor<F>,
    out: &Tensor<F>,
    grad: &Tensor<F>,
    gw: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    gx: &mut Tensor<F>,
    nw: usize,
    nb: usize,
    nx: usize,
    div: usize,
    #[comptime] relu: bool,
    #[comptime] bce: bool,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let (b, n, o) = (x.shape(0), x.shape(1), w.shape(1));
    let blocks = n.div_ceil(BLOCK);
    let scale = residual_factor(grad, div, bce);
    let mut sums = Array::<F>::new(BLOCK);
    #[unroll]
    for q in 0..BLOCK {
        sums[q] = F::new(0.0);
    }
    if p < nw {
        let (k0, j) = (p / o * BLOCK, p % o);
        let (xs0, xs1) = (x.stride(0), x.stride(1));
        for r in 0..b {
            let a = arriving(grad, out, scale, r, j, relu, bce);
            #[unroll]
            for q in 0..BLOCK {
                sums[q] += x[r * xs0 + (k0 + q).min(n - 1) * xs1] * a;
            }
        }
        #[unroll]
        for q in 0..BLOCK {
            if k0 + q < n {
                gw[(k0 + q) * o + j] = sums[q];
            }
        }
    } else if p < nw + nb {
        let j = p - nw;
        let mut sum = F::new(0.0);
        for r in 0..b {
            sum += arriving(grad, out, scale, r, j, relu, bce);
        }
        gb[j] = sum;
    } else if p < nw + nb + nx {
        let u = p - nw - nb;
        let (r, k0) = (u / blocks, u % blocks * BLOCK);
        let (ws0, ws1) = (w.stride(0), w.stride(1));
        for j in 0..o {
            let a = arriving(grad, out, scale, r, j, relu, bce);
            #[unroll]
            for q in 0..BLOCK {
                sums[q] += a * w[(k0 + q).min(n - 1) * ws0 + j * ws1];
            }
        }
        #[unroll]
        for q in 0..BLOCK {
            if k0 + q < n {
                gx[r * n + k0 + q] = sums[q];
            }
        }
    }
}

/// `x` `[b, n]`, `weight` `[n, o]`, `bias` `[o]` -> `[b, o]`, contiguous, through `max(., 0)`
/// if `relu`.
pub fn linear(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, relu: bool) -> CubeTensor {
    let b = x.shape()[0];
    let o = weight.shape()[1];
    let out = empty(&x, Shape::new([b, o]));
    let units = b * o.div_ceil(BLOCK);
    if units > 0 {
        let (count, dim) = grid(&x, units);
        let dtype = dtype_to_storage_type(x.dtype);
        linear_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            bias.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            relu,
            dtype,
        );
    }
    out
}

/// What follows the layer, which its gradient kernel applies to the gradient arriving.
pub enum Then {
    /// Nothing: `out` is not read.
    Nothing,
    /// ReLU: `out` is the layer's output, whose mask the gradient passes through.
    Relu,
    /// The mean BCE-with-logits ([`linear_bce_mean`]): `out` is the residual it kept and
    /// `grad` the mean's gradient (`[1]`).
    BceMean,
}

/// The gradients of [`linear`] (or of [`linear_bce_mean`]) for the gradient `grad`, in one
/// launch: the input's (shaped as `x`) if `need_x`, the weight's and the bias's (`[n, o]`,
/// `[o]`) if `need_w`; `None` for those not wanted.
#[allow(
    clippy::type_complexity,
    reason = "the three gradients, each there only when asked for"
)]
pub fn linear_grads(
    [x, weight, out, grad]: [CubeTensor; 4],
    then: Then,
    need_x: bool,
    need_w: bool,
) -> (Option<CubeTensor>, Option<(CubeTensor, CubeTensor)>) {
    let [n, o] = weight.shape().dims::<2>();
    // What is not wanted gets a one-element stand-in: every binding needs a buffer.
    let one = || empty(&x, Shape::new([1]));
    let gx = if need_x { empty(&x, x.shape()) } else { one() };
    let (gw, gb) = if need_w {
        (empty(&x, weight.shape()), empty(&x, Shape::new([o])))
    } else {
        (one(), one())
    };
    let div = out.shape().num_elements().max(1);
    let (relu, bce) = match then {
        Then::Nothing => (false, false),
        Then::Relu => (true, false),
        Then::BceMean => (false, true),
    };
    // A unit per output and block of rows of the weight, per row and block of columns of x.
    let blocks = n.div_ceil(BLOCK);
    let (nw, nb) = if need_w { (blocks * o, o) } else { (0, 0) };
    let nx = if need_x { x.shape()[0] * blocks } else { 0 };
    let units = nw + nb + nx;
    if units > 0 {
        let (count, dim) = grid(&x, units);
        let dtype = dtype_to_storage_type(x.dtype);
        linear_grads_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            weight.into_tensor_arg(),
            out.into_tensor_arg(),
            grad.into_tensor_arg(),
            gw.clone().into_tensor_arg(),
            gb.clone().into_tensor_arg(),
            gx.clone().into_tensor_arg(),
            nw,
            nb,
            nx,
            div,
            relu,
            bce,
            dtype,
        );
    }
    (need_x.then_some(gx), need_w.then_some((gw, gb)))
}

/// The mean BCE-with-logits of [`linear`]'s logits (no ReLU) against `t` (`[b, o]`), and
/// their residuals `sigmoid(z) - t` for the backward: `(residuals, [1] mean)`. The residuals
/// and each cube's share of the loss in one launch; with more than one cube, a second launch
/// adds the shares (`launch::sum_parts`).
pub fn linear_bce_mean(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    t: CubeTensor,
) -> (CubeTensor, CubeTensor) {
    let b = x.shape()[0];
    let o = weight.shape()[1];
    let out = empty(&x, Shape::new([b, o]));
    let n = b * o;
    let parts = (b * o.div_ceil(BLOCK)).div_ceil(SUM_UNITS).max(1);
    let mean = SplitSum::new(&x, parts, n.max(1));
    let dtype = dtype_to_storage_type(x.dtype);
    let client = x.client.clone();
    linear_bce_kernel::launch(
        &client,
        sum_cubes(parts),
        CubeDim::new_1d(SUM_UNITS as u32),
        x.into_tensor_arg(),
        weight.into_tensor_arg(),
        bias.into_tensor_arg(),
        t.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        mean.target.clone().into_tensor_arg(),
        mean.div,
        dtype,
    );
    (out, mean.finish())
}
