//! The fully connected layer (`x [b, n] · weight [n, o] + bias [o]`, ReLU or not) as CubeCL
//! kernels, with their launches: the output in one launch (one unit per output, the bias and
//! then the `n` products added in order), and the input, weight and bias gradients together in
//! another (one unit per gradient element, each a sum in order over the batch or the outputs;
//! with ReLU the unit reads the output for its mask). Burn's layer takes a matrix product and
//! an element-wise kernel forward, two products and a reduction backward: five launches where
//! these take two. Inputs are read through their strides (a transposed weight needs no copy);
//! outputs are contiguous.

use super::launch::{empty, grid};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// One unit per output `[r, j]` of the contiguous `out` `[b, o]`: `bias[j]`, then
/// `x[r, k] w[k, j]` added for `k` in order, then `max(., 0)` if `relu`.
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
    if p >= out.len() {
        terminate!();
    }
    let o = out.shape(1);
    let (r, j) = (p / o, p % o);
    let (xs0, xs1) = (x.stride(0), x.stride(1));
    let (ws0, ws1) = (w.stride(0), w.stride(1));
    let xr = r * xs0;
    let wj = j * ws1;
    let mut sum = bias[j * bias.stride(0)];
    for k in 0..x.shape(1) {
        sum += x[xr + k * xs1] * w[k * ws0 + wj];
    }
    if relu {
        sum = sum.max(F::new(0.0));
    }
    out[p] = sum;
}

/// The gradient reaching the product at `[r, j]`: `grad`'s, or 0 where `relu` and the output
/// `out` is not positive (ReLU's rule).
#[cube]
#[allow(
    clippy::collapsible_if,
    reason = "the outer test is on a comptime flag, settled when the kernel is built; the inner one runs"
)]
fn arriving<F: Float>(
    grad: &Tensor<F>,
    out: &Tensor<F>,
    r: usize,
    j: usize,
    #[comptime] relu: bool,
) -> F {
    let mut g = grad[r * grad.stride(0) + j * grad.stride(1)];
    if relu {
        if out[r * out.stride(0) + j * out.stride(1)] <= F::new(0.0) {
            g = F::new(0.0);
        }
    }
    g
}

/// One unit per gradient element, in three stretches of the grid: the first `nw` units the
/// weight's `gw[k, j]` (the sum over the batch `r` of `x[r, k]` times the arriving gradient
/// [`arriving`]`(r, j)`), the next `nb` the bias's `gb[j]` (the sum over the batch of the
/// arriving gradient), the last `nx` the input's `gx[r, k]` (the sum over the outputs `j` of
/// the arriving gradient times `w[k, j]`). Each sum is added in order; `nw` and `nb` are 0
/// when the weight's are not wanted, `nx` when the input's is not.
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "the tensors, the stretches and ReLU"
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
    #[comptime] relu: bool,
    #[define(F)] _dtype: ElemType,
) {
    let p = ABSOLUTE_POS;
    let (b, n, o) = (x.shape(0), x.shape(1), w.shape(1));
    let mut sum = F::new(0.0);
    if p < nw {
        let (k, j) = (p / o, p % o);
        let xk = k * x.stride(1);
        for r in 0..b {
            sum += x[r * x.stride(0) + xk] * arriving(grad, out, r, j, relu);
        }
        gw[p] = sum;
    } else if p < nw + nb {
        let j = p - nw;
        for r in 0..b {
            sum += arriving(grad, out, r, j, relu);
        }
        gb[j] = sum;
    } else if p < nw + nb + nx {
        let q = p - nw - nb;
        let (r, k) = (q / n, q % n);
        let wk = k * w.stride(0);
        for j in 0..o {
            sum += arriving(grad, out, r, j, relu) * w[wk + j * w.stride(1)];
        }
        gx[q] = sum;
    }
}

/// `x` `[b, n]`, `weight` `[n, o]`, `bias` `[o]` -> `[b, o]`, contiguous, through `max(., 0)`
/// if `relu`.
pub fn linear(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, relu: bool) -> CubeTensor {
    let b = x.shape()[0];
    let o = weight.shape()[1];
    let out = empty(&x, Shape::new([b, o]));
    let units = b * o;
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

/// The gradients of [`linear`] for the output gradient `grad`, in one launch: the input's
/// (shaped as `x`) if `need_x`, the weight's and the bias's (`[n, o]`, `[o]`) if `need_w`;
/// `None` for those not wanted. With `relu`, `out` is the layer's output, whose mask the
/// gradient passes through; without, it is not read.
#[allow(
    clippy::type_complexity,
    reason = "the three gradients, each there only when asked for"
)]
pub fn linear_grads(
    x: CubeTensor,
    weight: CubeTensor,
    out: CubeTensor,
    grad: CubeTensor,
    relu: bool,
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
    let (nw, nb) = if need_w { (n * o, o) } else { (0, 0) };
    let nx = if need_x { x.shape().num_elements() } else { 0 };
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
            relu,
            dtype,
        );
    }
    (need_x.then_some(gx), need_w.then_some((gw, gb)))
}
