//! Shared by the kernel tests: the backends the kernels run on, and tensors read back.

#![allow(
    deprecated,
    reason = "ndarray is tested as one of the project's CPU backends"
)]

use burn::prelude::*;

/// The devices the kernels run on.
pub fn devices() -> [Device; 2] {
    [Device::flex(), Device::ndarray()]
}

/// A tensor's values as f32.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}
