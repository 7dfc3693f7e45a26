//! A workaround for a fault of Burn 0.22.1's wgpu backend (its kernel fusion), on the layout
//! of one-channel convolution outputs.
//!
//! burn-cubecl convolves in NHWC and hands back an NCHW *view* of NHWC memory. With one
//! channel, the view of a `[n, 28, 28, 1]` buffer is `[n, 1, 28, 28]` with strides
//! `[784, 1, 28, 1]`: dense, and in memory exactly the contiguous NCHW tensor, but the size-1
//! channel dimension ties on stride 1 with the width. burn-std's `dim_order` breaks the tie by
//! index and reads the order `[0, 2, 1, 3]`, a "permuted" layout; a fused element-wise block
//! that combines such a tensor with a contiguous one (two or more operations: `z * t + t`, or
//! binary cross-entropy against the images) then computes wrong values, which even change from
//! run to run. One operation alone, or a tensor with two or more channels, is right. Flex and
//! ndarray are right. The reproduction is a test (`tests/suite/agreement.rs`) and the README's
//! "Known issues" entry.
//!
//! The workaround gives such a tensor the contiguous strides it already has in memory: a
//! reshape to `[n, h * w]` and back. It is applied outside autodiff (evaluation, the `ae`
//! commands), where the fault shows. Under autodiff the tensors the backward pass keeps are not
//! fused in place, and training's losses and gradients agree with flex without it (the suite's
//! training agreement test guards this); there the reshape would only cost launches (112 -> 151
//! kernels per conv-ae step on wgpu, `scripts/kernel-count.sh`, 2026-11-24).

use burn::prelude::*;

/// `x` with the strides of a contiguous tensor when it has one channel (where the fault
/// lies) and is not tracked by autodiff; else `x` unchanged. Values and shape are untouched.
pub fn dense_one_channel(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    if c != 1 || x.is_tracked() {
        return x;
    }
    x.reshape([n, h * w]).reshape([n, 1, h, w])
}
