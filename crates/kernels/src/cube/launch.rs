//! What the CubeCL kernels (GPU: wgpu, and CUDA where built) share: the grid of a launch
//! ([`grid`], [`unit_block`]), new tensors ([`empty`]), reading through strides ([`at`]),
//! and the 2x2 max-pool's forward and backward (one unit per output element; inputs read
//! through their strides, as Burn's convolutions hand back NCHW views of NHWC memory; outputs
//! contiguous). The sums are in `sums.rs`.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

/// Units per cube for the element-wise kernels.
const UNITS: usize = 256;

/// Which input of a 2x2 window is its first maximum, row-major (later inputs win only when
/// strictly larger): 0 the top-left one, at offset `corner` of `t`; 1 the one right of it
/// (`+ col`), 2 the one below (`+ row`), 3 the one below and right. `right` and `below` say
/// whether the window has those inputs (windows at the bottom and right edges may be cut
/// short). The max-pool's backward follows this rule; the fused convolution's forward records
/// the same one (`conv::forward::conv_pool_kernel`).
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

/// The grid a card (a GPU) should keep, in units, for a unit to take a block of more than one
/// ([`unit_block`]): 32,768, about 256 units for each of an H100's 132 multiprocessors. A
/// larger block reads less for each result, but a GPU's unit waits on its loads, and only many
/// units at once hide that wait. A first estimate: no GPU has timed it yet
/// (`scripts/gpu-check.sh blocks` is the way to).
const FILL: usize = 32_768;

/// How many rows, or channels, one unit of a kernel that may choose takes: 8, 4, 2 or 1, where
/// `units(block)` is the grid that makes. What [`crate::set_unit_block`] fixed, if anything;
/// else on a software adapter (lavapipe, Mesa's Vulkan on the CPU: no card behind the device),
/// which runs units on a few cores' vector lanes and never lacks units, `most`; on a card the
/// most up to `most` that still leaves [`FILL`] units, or 1.
pub(super) fn unit_block(like: &CubeTensor, most: usize, units: impl Fn(usize) -> usize) -> usize {
    if let Some(block) = crate::ops::unit_block() {
        return block;
    }
    if like.client.properties().identity.physical.is_none() {
        return most;
    }
    [8, 4, 2]
        .into_iter()
        .find(|&r| r <= most && units(r) >= FILL)
        .unwrap_or(1)
}

/// The four strides of the rank-4 tensor `t`.
#[cube]
pub(super) fn strides<F: Float>(t: &Tensor<F>) -> (usize, usize, usize, usize) {
    (t.stride(0), t.stride(1), t.stride(2), t.stride(3))
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
