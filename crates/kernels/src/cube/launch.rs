//! The CubeCL kernels (GPU: wgpu, and CUDA where built) and their launches: 2x2 max-pool
//! forward and backward, and BCE-with-logits per row or averaged over everything, with its
//! gradients. Each kernel runs one unit per output element (per row for the row sums; one cube
//! for the mean). The pool reads its inputs through their
//! strides (Burn's convolutions hand back NCHW views of NHWC memory); the loss works on
//! contiguous rows. Outputs are contiguous.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// Units per cube for the element-wise kernels.
const UNITS: usize = 256;

/// Units per cube of the kernels that sum in a cube ([`cube_sum`]): 2^8, the tree halves it
/// eight times.
pub(super) const SUM_UNITS: usize = 256;
const _: () = assert!(SUM_UNITS == 1 << 8);

/// The sum of `value` over the `SUM_UNITS` units of the cube (`unit` is this unit's
/// position), for every unit: the values are added pairwise in shared memory, halving eight
/// times, always in the same order. Every unit of the cube must call it: it waits at barriers.
#[cube]
pub(super) fn cube_sum<F: Float>(value: F, unit: usize) -> F {
    let mut partial = Shared::<[F]>::new_slice(SUM_UNITS);
    partial[unit] = value;
    sync_cube();
    // Halves: 128, 64, ..., 1.
    #[unroll]
    for level in 1..9usize {
        let half = SUM_UNITS >> level;
        if unit < half {
            let other = partial[unit + half];
            partial[unit] += other;
        }
        sync_cube();
    }
    partial[0]
}

/// Which input of a 2x2 window is its first maximum, row-major (later inputs win only when
/// strictly larger): 0 the top-left one, at offset `corner` of `t`; 1 the one right of it
/// (`+ col`), 2 the one below (`+ row`), 3 the one below and right. `right` and `below` say
/// whether the window has those inputs (windows at the bottom and right edges may be cut
/// short). The max-pool's backward and the fused convolution's both follow this rule.
#[cube]
pub(super) fn first_max_in_window<F: Float>(
    t: &Tensor<F>,
    corner: usize,
    row: usize,
    col: usize,
    right: bool,
    below: bool,
) -> usize {
    let mut k = 0usize;
    let mut best = t[corner];
    if right && t[corner + col] > best {
        k = 1;
        best = t[corner + col];
    }
    if below && t[corner + row] > best {
        k = 2;
        best = t[corner + row];
    }
    if below && right && t[corner + row + col] > best {
        k = 3;
    }
    k
}

/// The offset of `[i0, i1, i2, i3]` in `t`, through its strides.
#[cube]
pub(super) fn at<F: Float>(t: &Tensor<F>, i0: usize, i1: usize, i2: usize, i3: usize) -> usize {
    i0 * t.stride(0) + i1 * t.stride(1) + i2 * t.stride(2) + i3 * t.stride(3)
}

/// One unit per output of the contiguous `[b, c, ceil(h/2), ceil(w/2)]` `out`: the maximum of
/// its window of the `[b, c, h, w]` input `x` (read through its strides), whose windows at the
/// bottom and right edges may be cut short.
#[cube(launch)]
fn pool_kernel<F: Float>(x: &Tensor<F>, out: &mut Tensor<F>, #[define(F)] _dtype: ElemType) {
    let o = ABSOLUTE_POS;
    if o >= out.len() {
        terminate!();
    }
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let xx = o % ow * 2;
    let y = o / ow % oh * 2;
    let ci = o / (ow * oh) % c;
    let bi = o / (ow * oh * c);
    let mut best = x[at(x, bi, ci, y, xx)];
    if xx + 1 < w {
        best = best.max(x[at(x, bi, ci, y, xx + 1)]);
    }
    if y + 1 < h {
        best = best.max(x[at(x, bi, ci, y + 1, xx)]);
        if xx + 1 < w {
            best = best.max(x[at(x, bi, ci, y + 1, xx + 1)]);
        }
    }
    out[o] = best;
}

/// One unit per window: its output gradient to the window's first maximum (row-major), 0 to
/// the window's other inputs (windows do not overlap, so every input is written once). `x`
/// and `grad` are read through their strides; `out` is contiguous, shaped as `x`.
#[cube(launch)]
fn pool_backward_kernel<F: Float>(
    x: &Tensor<F>,
    grad: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let o = ABSOLUTE_POS;
    if o >= grad.len() {
        terminate!();
    }
    let (c, h, w) = (x.shape(1), x.shape(2), x.shape(3));
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let px = o % ow;
    let py = o / ow % oh;
    let ci = o / (ow * oh) % c;
    let bi = o / (ow * oh * c);
    let (y, xx) = (py * 2, px * 2);
    let base = ((bi * c + ci) * h + y) * w + xx;
    let right = xx + 1 < w;
    let below = y + 1 < h;
    let (row, col) = (x.stride(2), x.stride(3));
    let k = first_max_in_window(x, at(x, bi, ci, y, xx), row, col, right, below);
    // The first maximum's offset in `out`.
    let at_max = base + k / 2 * w + k % 2;
    let zero = F::new(0.0);
    out[base] = zero;
    if right {
        out[base + 1] = zero;
    }
    if below {
        out[base + w] = zero;
        if right {
            out[base + w + 1] = zero;
        }
    }
    out[at_max] = grad[at(grad, bi, ci, py, px)];
}

/// One unit per row of `[rows, d]`: the sum of `max(z, 0) - z t + ln(1 + exp(-|z|))`.
#[cube(launch)]
fn bce_rows_kernel<F: Float>(
    z: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    d: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = ABSOLUTE_POS;
    if row >= out.len() {
        terminate!();
    }
    let zero = F::new(0.0);
    let one = F::new(1.0);
    let mut sum = zero;
    for j in 0..d {
        let zi = z[row * d + j];
        sum += zi.max(zero) - zi * t[row * d + j] + (one + (-zi.abs()).exp()).ln();
    }
    out[row] = sum;
}

/// One cube: the sum of `max(z, 0) - z t + ln(1 + exp(-|z|))` over every element of `z`,
/// divided by their number. Each unit sums every `SUM_UNITS`-th element, then [`cube_sum`]
/// adds the units' sums, always in the same order.
#[cube(launch)]
fn bce_mean_kernel<F: Float>(
    z: &Tensor<F>,
    t: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let unit = UNIT_POS as usize;
    let zero = F::new(0.0);
    let one = F::new(1.0);
    let mut sum = zero;
    for i in range_stepped(unit, z.len(), SUM_UNITS) {
        let zi = z[i];
        sum += zi.max(zero) - zi * t[i] + (one + (-zi.abs()).exp()).ln();
    }
    let total = cube_sum::<F>(sum, unit);
    if unit == 0 {
        out[0] = total / F::cast_from(z.len());
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
    let one = F::new(1.0);
    out[i] = (one / (one + (-z[i]).exp()) - t[i]) * (g[i / d] / F::cast_from(div));
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

/// A new contiguous tensor of `shape` beside `like`.
pub(super) fn empty(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

/// The cube count and size for `n` units.
pub(super) fn grid(like: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(UNITS as u32);
    (calculate_cube_count_elemwise(&like.client, n, dim), dim)
}

/// `[b, c, h, w]` -> `[b, c, ceil(h/2), ceil(w/2)]`.
pub fn max_pool2x2(x: CubeTensor) -> CubeTensor {
    let [b, c, h, w] = x.shape().dims::<4>();
    let out = empty(&x, Shape::new([b, c, h.div_ceil(2), w.div_ceil(2)]));
    let n = out.shape().num_elements();
    if n > 0 {
        let (count, dim) = grid(&x, n);
        let dtype = dtype_to_storage_type(x.dtype);
        pool_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype,
        );
    }
    out
}

/// The input gradient of [`max_pool2x2`].
pub fn max_pool2x2_backward(x: CubeTensor, grad: CubeTensor) -> CubeTensor {
    let out = empty(&x, x.shape());
    let n = grad.shape().num_elements();
    if n > 0 {
        let (count, dim) = grid(&x, n);
        let dtype = dtype_to_storage_type(x.dtype);
        pool_backward_kernel::launch(
            &x.client.clone(),
            count,
            dim,
            x.into_tensor_arg(),
            grad.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype,
        );
    }
    out
}

/// Per-row BCE-with-logits sums: `[rows, d]` -> `[rows]`.
pub fn bce_rows(z: CubeTensor, t: CubeTensor) -> CubeTensor {
    let (z, t) = (into_contiguous(z), into_contiguous(t));
    let [rows, d] = z.shape().dims::<2>();
    let out = empty(&z, Shape::new([rows]));
    if rows > 0 {
        let (count, dim) = grid(&z, rows);
        let dtype = dtype_to_storage_type(z.dtype);
        bce_rows_kernel::launch(
            &z.client.clone(),
            count,
            dim,
            z.into_tensor_arg(),
            t.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            d,
            dtype,
        );
    }
    out
}

/// The mean over every element of `[rows, d]`: `[1]`, in one cube.
pub fn bce_mean(z: CubeTensor, t: CubeTensor) -> CubeTensor {
    let (z, t) = (into_contiguous(z), into_contiguous(t));
    let out = empty(&z, Shape::new([1]));
    let dtype = dtype_to_storage_type(z.dtype);
    bce_mean_kernel::launch(
        &z.client.clone(),
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(SUM_UNITS as u32),
        z.into_tensor_arg(),
        t.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        dtype,
    );
    out
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
