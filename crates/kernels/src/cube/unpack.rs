//! A batch of images from the data set kept on the device as bytes, in one kernel: each unit
//! finds its sample's word, shifts its byte out and divides it by 255 (Burn's operations took
//! a gather, a shift, a mask and the conversion: about four launches a step).

use super::launch::grid;
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::{DType, Shape};
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// One unit per value `j` of sample `r` of the contiguous `out` (`[b, ...]`, `d` values a
/// sample: its first stride): byte `j % 4` of word
/// `j / 4` of row `idx[r]` of `words` (read through their strides), over 255.
#[cube(launch)]
fn unpack_kernel<F: Float, I: Int>(
    words: &Tensor<I>,
    idx: &Tensor<I>,
    out: &mut Tensor<F>,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let i = ABSOLUTE_POS;
    if i >= out.len() {
        terminate!();
    }
    let d = out.stride(0);
    let (r, j) = (i / d, i % d);
    let row = usize::cast_from(idx[r * idx.stride(0)]);
    let word = words[row * words.stride(0) + j / 4 * words.stride(1)];
    let byte = (word >> I::cast_from(j % 4 * 8)) & I::cast_from(255u32);
    out[i] = F::cast_from(byte) / F::new(255.0);
}

/// Rows `idx` (`[b]`) of the packed `words` (`[n, ceil(d / 4)]` for `d = c h w`, byte `k` of
/// word `w` being value `4 w + k`) as `[b, c, h, w]` floats in [0, 1].
pub fn unpack_bytes(
    words: CubeTensor,
    idx: CubeTensor,
    [c, h, w]: [usize; 3],
    dtype: DType,
) -> CubeTensor {
    let b = idx.shape()[0];
    let d = c * h * w;
    let out = burn_cubecl::ops::numeric::empty_device_contiguous_dtype(
        words.client.clone(),
        words.device.clone(),
        Shape::new([b, c, h, w]),
        dtype,
    );
    let n = b * d;
    if n > 0 {
        let (count, dim) = grid(&words, n);
        let dtypes = [
            dtype_to_storage_type(dtype),
            dtype_to_storage_type(words.dtype),
        ];
        unpack_kernel::launch(
            &words.client.clone(),
            count,
            dim,
            words.into_tensor_arg(),
            idx.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtypes,
        );
    }
    out
}
