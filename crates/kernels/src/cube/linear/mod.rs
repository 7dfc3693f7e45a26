//! The fully connected layer (`x [b, n] · weight [n, o] + bias [o]`, ReLU or not) as CubeCL
//! kernels (`forward.rs`, `grads.rs`; their launches here): the output in one launch (a unit
//! per block of outputs, each the bias and then the `n` products added in order), and the
//! input, weight and bias gradients together in another (a unit per bias gradient and per block
//! of weight or input gradients, each a sum in order over the batch or the outputs; with ReLU
//! the unit reads the output for its mask; after the loss, the residual the forward kept).
//! Burn's layer takes a matrix product and an element-wise kernel forward, two products and a
//! reduction backward: five launches where these take two. Inputs are read through their
//! strides (a transposed weight needs no copy); outputs are contiguous.
//!
//! A unit's block is [`BLOCK`] columns by `rows` rows ([`rows_for`]): each value it reads
//! serves `rows` or [`BLOCK`] products, not one.

mod forward;
mod grads;

pub(super) use forward::product_at;

use super::launch::{empty, grid, unit_block};
use super::sums::{SUM_UNITS, SplitSum, sum_cubes};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use forward::{linear_bce_kernel, linear_kernel};
use grads::linear_grads_kernel;

/// How many of the weight's rows (or of the input's columns, or of a row's outputs) one unit
/// of the kernels takes: the gradient arriving at an output, or a row's input, is read once
/// for all of them. Eight ran faster than four on lavapipe (dense-ae's step 221 against 301
/// ms, 2026-12-07).
const BLOCK: usize = 8;

/// The rows (of the batch, or the weight's columns) one unit takes, 8, 4, 2 or 1, where
/// `units(rows)` is the grid that makes ([`unit_block`]: on a software adapter 8, each
/// `w[k, j]` read once for eight rows: deep-ae's step's kernels 1,074 against 294 ms with one
/// row, its gradient kernels 294 against 373 ms with four, lavapipe, 2026-12-07).
fn rows_for(like: &CubeTensor, units: impl Fn(usize) -> usize) -> usize {
    unit_block(like, 8, units)
}

/// The forward kernels' rows a unit ([`rows_for`]) and their grid's units, for `b` rows of
/// `o` outputs: a unit per block of `rows` rows by [`BLOCK`] outputs.
fn forward_grid(x: &CubeTensor, b: usize, o: usize) -> (usize, usize) {
    let units = |rows: usize| b.div_ceil(rows) * o.div_ceil(BLOCK);
    let rows = rows_for(x, units);
    (rows, units(rows))
}

/// `x` `[b, n]`, `weight` `[n, o]`, `bias` `[o]` -> `[b, o]`, contiguous, through `max(., 0)`
/// if `relu`.
pub fn linear(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, relu: bool) -> CubeTensor {
    let b = x.shape()[0];
    let o = weight.shape()[1];
    let out = empty(&x, Shape::new([b, o]));
    let (rows, units) = forward_grid(&x, b, o);
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
            rows,
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
    // A unit per block of the weight's gradient, per output (the bias's), per block of the
    // input's.
    let blocks = n.div_ceil(BLOCK);
    let b = x.shape()[0];
    let grid_of = |rows: usize| {
        let (nw, nb) = if need_w {
            (blocks * o.div_ceil(rows), o)
        } else {
            (0, 0)
        };
        let nx = if need_x { b.div_ceil(rows) * blocks } else { 0 };
        (nw, nb, nx)
    };
    let rows = rows_for(&x, |r| {
        let (nw, nb, nx) = grid_of(r);
        nw + nb + nx
    });
    let (nw, nb, nx) = grid_of(rows);
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
            rows,
            dtype,
        );
    }
    (need_x.then_some(gx), need_w.then_some((gw, gb)))
}

/// The mean BCE-with-logits of [`linear`]'s logits (no ReLU) against `t` (`[b, o]`), and
/// their residuals `sigmoid(z) - t` for the backward: `(residuals, [1] mean)`. The residuals
/// and each cube's share of the loss in one launch; with more than one cube, a second launch
/// adds the shares (`sums::sum_parts`).
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
    let (rows, units) = forward_grid(&x, b, o);
    let parts = units.div_ceil(SUM_UNITS).max(1);
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
        rows,
        dtype,
    );
    (out, mean.finish())
}
