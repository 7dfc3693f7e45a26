//! The CubeCL kernels (GPU: wgpu, and CUDA where built) and their launches: 2x2 max-pool
//! forward and backward, and BCE-with-logits per row with its gradients. Each kernel runs one
//! unit per output element (per row for the loss sum), on contiguous tensors.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// Units per cube for the element-wise kernels.
const UNITS: usize = 256;

/// One unit per output: the first maximum (row-major) of its window of the `[planes, h, w]`
/// input, whose windows at the bottom and right edges may be cut short.
#[cube(launch)]
fn pool_kernel<F: Float>(
    x: &Tensor<F>,
    out: &mut Tensor<F>,
    h: usize,
    w: usize,
    #[define(F)] _dtype: ElemType,
) {
    let o = ABSOLUTE_POS;
    if o >= out.len() {
        terminate!();
    }
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let plane = o / (oh * ow);
    let (y, xx) = ((o % (oh * ow)) / ow * 2, o % ow * 2);
    let base = plane * h * w + y * w + xx;
    let mut best = x[base];
    if xx + 1 < w {
        best = best.max(x[base + 1]);
    }
    if y + 1 < h {
        best = best.max(x[base + w]);
        if xx + 1 < w {
            best = best.max(x[base + w + 1]);
        }
    }
    out[o] = best;
}

/// One unit per window: its output gradient to the window's first maximum (row-major), 0 to
/// the window's other inputs (windows do not overlap, so every input is written once).
#[cube(launch)]
fn pool_backward_kernel<F: Float>(
    x: &Tensor<F>,
    grad: &Tensor<F>,
    out: &mut Tensor<F>,
    h: usize,
    w: usize,
    #[define(F)] _dtype: ElemType,
) {
    let o = ABSOLUTE_POS;
    if o >= grad.len() {
        terminate!();
    }
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let plane = o / (oh * ow);
    let (y, xx) = ((o % (oh * ow)) / ow * 2, o % ow * 2);
    let base = plane * h * w + y * w + xx;
    let right = xx + 1 < w;
    let below = y + 1 < h;
    // The offset of the first maximum: later ones win only when strictly larger.
    let mut at = base;
    let mut best = x[base];
    if right && x[base + 1] > best {
        at = base + 1;
        best = x[base + 1];
    }
    if below && x[base + w] > best {
        at = base + w;
        best = x[base + w];
    }
    if below && right && x[base + w + 1] > best {
        at = base + w + 1;
    }
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
    out[at] = grad[o];
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

/// One unit per element: the logit's gradient `(sigmoid(z) - t) g` of its row's `g`.
#[cube(launch)]
fn bce_grad_z_kernel<F: Float>(
    z: &Tensor<F>,
    t: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    d: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    let one = F::new(1.0);
    out[i] = (one / (one + (-z[i]).exp()) - t[i]) * g[i / d];
}

/// One unit per element: the target's gradient `-z g` of its row's `g`.
#[cube(launch)]
fn bce_grad_t_kernel<F: Float>(
    z: &Tensor<F>,
    g: &Tensor<F>,
    out: &mut Tensor<F>,
    d: usize,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    out[i] = -z[i] * g[i / d];
}

/// A new contiguous tensor of `shape` beside `like`.
fn empty(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

/// The cube count and size for `n` units.
fn grid(like: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(UNITS as u32);
    (calculate_cube_count_elemwise(&like.client, n, dim), dim)
}

/// `[b, c, h, w]` -> `[b, c, ceil(h/2), ceil(w/2)]`.
pub fn max_pool2x2(x: CubeTensor) -> CubeTensor {
    let x = into_contiguous(x);
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
            h,
            w,
            dtype,
        );
    }
    out
}

/// The input gradient of [`max_pool2x2`].
pub fn max_pool2x2_backward(x: CubeTensor, grad: CubeTensor) -> CubeTensor {
    let (x, grad) = (into_contiguous(x), into_contiguous(grad));
    let [_, _, h, w] = x.shape().dims::<4>();
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
            h,
            w,
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

/// The gradients of [`bce_rows`] for the row gradients `g`: the logits', and the targets'
/// (`[0]`, empty, unless `need_t`).
pub fn bce_rows_backward(
    z: CubeTensor,
    t: CubeTensor,
    g: CubeTensor,
    need_t: bool,
) -> (CubeTensor, CubeTensor) {
    let (z, t, g) = (into_contiguous(z), into_contiguous(t), into_contiguous(g));
    let [_, d] = z.shape().dims::<2>();
    let n = z.shape().num_elements();
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
            dtype,
        );
    }
    (gz, gt)
}
