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
    view2([rows, cols], transposed, |s| {
        Tensor::random(s, NORMAL, device)
    })
}

/// [`random2`]'s values rounded to the grid of [`on_grid`] (before the view is taken).
pub fn grid2(rows: usize, cols: usize, transposed: bool, device: &Device) -> Tensor<2> {
    view2([rows, cols], transposed, |s| {
        on_grid(Tensor::random(s, NORMAL, device))
    })
}

/// `make`'s `[rows, cols]` tensor, or the transposed view of its `[cols, rows]` one.
fn view2(
    [rows, cols]: [usize; 2],
    transposed: bool,
    make: impl Fn([usize; 2]) -> Tensor<2>,
) -> Tensor<2> {
    if transposed {
        make([cols, rows]).transpose()
    } else {
        make([rows, cols])
    }
}

/// `[b, c, h, w]` normal values, laid out in memory as NCHW, or as NHWC (a permuted view, not
/// contiguous: what Burn's convolutions on wgpu hand back).
pub fn random4(shape: [usize; 4], nhwc: bool, device: &Device) -> Tensor<4> {
    view4(shape, nhwc, |s| Tensor::random(s, NORMAL, device))
}

/// [`random4`]'s values rounded to the grid of [`on_grid`] (before the view is taken).
pub fn grid4(shape: [usize; 4], nhwc: bool, device: &Device) -> Tensor<4> {
    view4(shape, nhwc, |s| on_grid(Tensor::random(s, NORMAL, device)))
}

/// `make`'s `[b, c, h, w]` tensor, or the NCHW view of its `[b, h, w, c]` one.
fn view4(shape: [usize; 4], nhwc: bool, make: impl Fn([usize; 4]) -> Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = shape;
    if nhwc {
        make([b, h, w, c]).permute([0, 3, 1, 2])
    } else {
        make(shape)
    }
}

/// `t` rounded to a multiple of 1/8 in [-4, 4]. A product of two such values is a multiple of
/// 1/64 of at most 16, and a sum of up to 16,384 of them stays under 2^24/64: exact in `f32`,
/// in any order. So a dense layer's outputs on these inputs are the same to the bit however
/// a kernel orders its sums, and ReLU passes the gradient at the same outputs on both sides
/// of a comparison. With unrounded normal values an output within rounding of 0 can be
/// positive on one side and not on the other, and the whole of its gradient term then
/// differs: what made `linear.rs`'s comparison with Burn's layer fail once in CI
/// (2026-12-07, an input gradient at 256x32 -> 784 with ReLU, -15.869641 against -15.639077,
/// about one weight times one output's gradient). Measured on lavapipe: over 400 draws of
/// that shape's normal inputs, 2 of 80,281,600 outputs had opposite signs in our kernel and
/// in Burn's matrix product (and 71% differed in the last bits), so about one test run in
/// 200 would fail at that shape alone.
pub fn on_grid<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    (t * 8.0).round().clamp(-32.0, 32.0) / 8.0
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
