//! The ops through the extension, for the test files that run them: the dense layer and the
//! convolutions (our kernels on wgpu), and random inputs.

use ae_kernels::KernelBackend;
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::Distribution;

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// The dense layer through the extension (our kernels on wgpu).
pub fn dense(relu: bool) -> impl Fn(Tensor<2>, Tensor<2>, Tensor<1>) -> Tensor<2> {
    move |x, w, b| {
        Tensor::from_dispatch(Dispatch::dense(
            x.into_dispatch(),
            w.into_dispatch(),
            b.into_dispatch(),
            relu,
        ))
    }
}

/// `[rows, cols]` normal values, contiguous or as the transposed view of `[cols, rows]` memory.
pub fn random2(rows: usize, cols: usize, transposed: bool, device: &Device) -> Tensor<2> {
    if transposed {
        Tensor::<2>::random([cols, rows], NORMAL, device).transpose()
    } else {
        Tensor::<2>::random([rows, cols], NORMAL, device)
    }
}

/// The convolution through the extension (our kernels on wgpu).
pub fn conv_ext(
    pad: usize,
    relu: bool,
    up: bool,
) -> impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4> {
    move |x, k, b| {
        Tensor::from_dispatch(Dispatch::conv3x3(
            x.into_dispatch(),
            k.into_dispatch(),
            b.into_dispatch(),
            pad,
            relu,
            up,
        ))
    }
}

/// The convolution and its 2x2 max-pool through the extension, as one op: the pooled output.
pub fn pool_ext(
    pad: usize,
    relu: bool,
    up: bool,
) -> impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4> {
    move |x, k, b| {
        let (_, pooled) = Dispatch::conv3x3_pool(
            x.into_dispatch(),
            k.into_dispatch(),
            b.into_dispatch(),
            pad,
            relu,
            up,
        );
        Tensor::from_dispatch(pooled)
    }
}
