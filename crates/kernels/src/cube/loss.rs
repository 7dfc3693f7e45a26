//! BCE-with-logits as CubeCL kernels, with their launches: per row (one cube a row) or
//! averaged over everything (one cube for a short sum, else a split sum: [`SPAN`] terms a
//! cube, then `sums::sum_parts`), and the gradients (one unit per element). The loss works on
//! contiguous rows; outputs are contiguous. Every sum is added in the same order every time.

use super::launch::{empty, grid};
use super::sums::{SPAN, SUM_UNITS, SplitSum, cube_sum, sum_cubes};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// The loss of one logit `z` for the target `t`: `max(z, 0) - z t + ln(1 + exp(-|z|))`.
#[cube]
pub(super) fn bce<F: Float>(z: F, t: F) -> F {
    z.max(F::new(0.0)) - z * t + (F::new(1.0) + (-z.abs()).exp()).ln()
}

/// The residual `sigmoid(z) - t` of one logit `z` for the target `t`: the loss's gradient at
/// the logit, before the mean's or the row's factor.
#[cube]
pub(super) fn residual<F: Float>(z: F, t: F) -> F {
    F::new(1.0) / (F::new(1.0) + (-z).exp()) - t
}

/// With `bce`, the factor of each residual `sigmoid(z) - t` of a layer fused with the mean
/// loss in the gradient (`grad[0] / div`, the mean's gradient spread over its `div`
/// elements), worked out once per unit, not once per term:
/// the same value, so the same sums to the bit. Else 0, not read.
#[cube]
#[allow(
    unused_assignments,
    reason = "the cube macro needs the variable declared before the comptime branch assigns it"
)]
pub(super) fn residual_factor<F: Float>(grad: &Tensor<F>, div: usize, #[comptime] bce: bool) -> F {
    let mut s = F::new(0.0);
    if bce {
        s = grad[0] / F::cast_from(div);
    }
    s
}

/// Cube `k`: the sum of the losses ([`bce`]) of elements `k * span ..` (`span` of them, fewer
/// in the last cube), divided by `div`, into `out[k]`: with `span` a row's length and `div` 1,
/// the row sums; else the parts of a long sum, or (one cube) the mean. Each unit takes every
/// `SUM_UNITS`-th element of the stretch, then [`cube_sum`].
#[cube(launch)]
fn bce_sum_kernel<F: Float>(
    z: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    span: usize,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let k = CUBE_POS;
    // Cubes past the last part (a grid of more than 65,535) leave, the whole cube at once.
    if k >= out.len() {
        terminate!();
    }
    let start = k * span;
    let end = (start + span).min(z.len());
    let mut sum = F::new(0.0);
    for i in range_stepped(start + unit, end, SUM_UNITS) {
        sum += bce::<F>(z[i], t[i]);
    }
    let total = cube_sum::<F>(sum, unit);
    if unit == 0 {
        out[k] = total / F::cast_from(div);
    }
}

/// One unit per element: the logit's gradient `(sigmoid(z) - t) g / div`, `g` its row's
/// (`d` elements a row) and `div` 1 for the row sums, the element count for the mean.
#[cube(launch)]
fn bce_grad_z_kernel<F: Float>(
    z: &Tensor<F>,
    t: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    d: usize,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    out[i] = residual::<F>(z[i], t[i]) * (g[i / d] / F::cast_from(div));
}

/// One unit per element: the target's gradient `-z g / div`, as [`bce_grad_z_kernel`]'s.
#[cube(launch)]
fn bce_grad_t_kernel<F: Float>(
    z: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    d: usize,
    div: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    out[i] = -z[i] * (g[i / d] / F::cast_from(div));
}

/// Per-row BCE-with-logits sums: `[rows, d]` -> `[rows]`.
pub fn bce_rows(z: CubeTensor, t: CubeTensor) -> CubeTensor {
    let (z, t) = (into_contiguous(z), into_contiguous(t));
    let [rows, d] = z.shape().dims::<2>();
    let out = empty(&z, Shape::new([rows]));
    if rows > 0 {
        let dtype = dtype_to_storage_type(z.dtype);
        bce_sum_kernel::launch(
            &z.client.clone(),
            sum_cubes(rows),
            CubeDim::new_1d(SUM_UNITS as u32),
            z.into_tensor_arg(),
            t.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            d,
            1,
            dtype,
        );
    }
    out
}

/// The mean over every element of `[rows, d]`: `[1]`. Up to [`SPAN`] elements in one cube
/// and one launch; more in `ceil(n / SPAN)` cubes, whose parts a second launch adds.
pub fn bce_mean(z: CubeTensor, t: CubeTensor) -> CubeTensor {
    let (z, t) = (into_contiguous(z), into_contiguous(t));
    let n = z.shape().num_elements();
    let parts = n.div_ceil(SPAN).max(1);
    let span = n.div_ceil(parts);
    let dtype = dtype_to_storage_type(z.dtype);
    let client = z.client.clone();
    let mean = SplitSum::new(&z, parts, n.max(1));
    bce_sum_kernel::launch(
        &client,
        sum_cubes(parts),
        CubeDim::new_1d(SUM_UNITS as u32),
        z.into_tensor_arg(),
        t.into_tensor_arg(),
        mean.target.clone().into_tensor_arg(),
        span,
        mean.div,
        dtype,
    );
    mean.finish()
}

/// The gradients of [`bce_rows`] for the row gradients `g` (`[rows]`), or, if `mean`, of
/// [`bce_mean`] for its gradient `g` (`[1]`): the logits', and the targets' (`[0]`, empty,
/// unless `need_t`).
pub fn bce_backward(
    z: CubeTensor,
    t: CubeTensor,
    g: CubeTensor,
    need_t: bool,
    mean: bool,
) -> (CubeTensor, CubeTensor) {
    let (z, t, g) = (into_contiguous(z), into_contiguous(t), into_contiguous(g));
    let n = z.shape().num_elements();
    // Elements per entry of `g`, and what its entry is divided by.
    let (d, div) = if mean {
        (n.max(1), n.max(1))
    } else {
        (z.shape()[1].max(1), 1)
    };
    let dtype = dtype_to_storage_type(z.dtype);
    let gz = empty(&z, z.shape());
    let gt = empty(&z, if need_t { z.shape() } else { Shape::new([0]) });
    if n > 0 {
        let (count, dim) = grid(&z, n);
        let client = z.client.clone();
        if need_t {
            bce_grad_t_kernel::launch(
                &client,
                count.clone(),
                dim,
                z.clone().into_tensor_arg(),
                g.clone().into_tensor_arg(),
                gt.clone().into_tensor_arg(),
                d,
                div,
                dtype,
            );
        }
        bce_grad_z_kernel::launch(
            &client,
            count,
            dim,
            z.into_tensor_arg(),
            t.into_tensor_arg(),
            g.into_tensor_arg(),
            gz.clone().into_tensor_arg(),
            d,
            div,
            dtype,
        );
    }
    (gz, gt)
}
