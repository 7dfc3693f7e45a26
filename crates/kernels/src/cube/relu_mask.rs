//! ReLU's gradient on its own: the output gradient where the output is positive, else 0, in
//! one launch. The stride-2 transposed convolution with ReLU runs it before its gradient
//! kernel (`cube.rs`; `conv_transpose.rs` says why there and not inside it).

use super::launch::{at, empty, grid};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// One unit per element of the contiguous rank-4 `masked` (shaped as `grad`): `grad`'s
/// element, or 0 where ReLU cut the output `y` (`y <= 0`). `grad` and `y` are read through
/// their strides.
#[cube(launch)]
fn relu_mask_kernel<F: Float>(
    grad: &Tensor<F>,
    y: &Tensor<F>,
    masked: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= masked.len() {
        terminate!();
    }
    let (c, h, w) = (grad.shape(1), grad.shape(2), grad.shape(3));
    let (j, r, ci, bi) = (i % w, i / w % h, i / (w * h) % c, i / (w * h * c));
    let mut v = F::new(0.0);
    if y[at(y, bi, ci, r, j)] > F::new(0.0) {
        v = grad[at(grad, bi, ci, r, j)];
    }
    masked[i] = v;
}

/// `grad` where `out` is positive, else 0: a new contiguous tensor, in one launch.
pub(super) fn relu_masked(grad: CubeTensor, out: CubeTensor) -> CubeTensor {
    let masked = empty(&grad, grad.shape());
    let n = masked.shape().num_elements();
    if n > 0 {
        let (count, dim) = grid(&grad, n);
        let dtype = dtype_to_storage_type(grad.dtype);
        relu_mask_kernel::launch(
            &grad.client.clone(),
            count,
            dim,
            grad.into_tensor_arg(),
            out.into_tensor_arg(),
            masked.clone().into_tensor_arg(),
            dtype,
        );
    }
    masked
}
