//! The ops through the extension, for the test files that run them: the dense layer and the
//! convolutions (our kernels on wgpu), their outputs and gradients, and random inputs.

use ae_kernels::KernelBackend;
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::values;

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// The op through the extension.
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

/// `op`'s output and the gradients of `x`, `w` and `b` of the output's sum weighted by `mix`.
pub fn dense_output_and_grads(
    op: impl Fn(Tensor<2>, Tensor<2>, Tensor<1>) -> Tensor<2>,
    [x, w]: [&Tensor<2>; 2],
    b: &Tensor<1>,
    mix: &Tensor<2>,
) -> [Vec<f32>; 4] {
    let (x, w, b) = (
        x.clone().require_grad(),
        w.clone().require_grad(),
        b.clone().require_grad(),
    );
    let y = op(x.clone(), w.clone(), b.clone());
    let g = (y.clone() * mix.clone()).sum().backward();
    [
        values(y.inner()),
        values(x.grad(&g).unwrap()),
        values(w.grad(&g).unwrap()),
        values(b.grad(&g).unwrap()),
    ]
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
