//! Shared by the kernel tests: the backends the kernels run on, tensors read back, and
//! repeatable numbers.

#![allow(
    deprecated,
    reason = "ndarray is tested as one of the project's CPU backends"
)]
#![allow(dead_code, reason = "each test file uses the part it needs")]

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

/// A repeatable spread of `n` values in [-1, 1).
pub fn numbers(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}
