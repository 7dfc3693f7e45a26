//! The convolutions' public functions: each the op of ours where the device uses it
//! ([`Op::used_on`]), else Burn's layers one after the other.

use super::{Op, bce_with_logits_mean};
use crate::{KernelBackend, conv, conv_transpose, max_pool2x2};
use burn::backend::Dispatch;
use burn::prelude::*;

/// A 3x3 convolution, stride 1, padding `pad` (0 or 1), with bias, NCHW: the kernel where
/// [`Op::runs_on`], else Burn's `conv2d`.
pub fn conv3x3(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, pad: usize) -> Tensor<4> {
    conv_op(x, weight, bias, pad, false, false)
}

/// [`conv3x3`] and then ReLU, as one op where [`Op::runs_on`] (on wgpu one kernel each way:
/// the backward reads the output for ReLU's mask), else Burn's `conv2d` and `relu`.
pub fn conv3x3_relu(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, pad: usize) -> Tensor<4> {
    conv_op(x, weight, bias, pad, true, false)
}

/// [`conv3x3_relu`] and then the 2x2 max-pool ([`max_pool2x2`]), as one op where both
/// [`Op::runs_on`] (on wgpu one kernel each way: the forward writes the output and its pooled
/// maxima, the backward finds each window's maximum in the output), else the two ops.
pub fn conv3x3_relu_pool(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    pad: usize,
) -> Tensor<4> {
    let device = x.device();
    if Op::Conv.used_on(&device) && Op::MaxPool.used_on(&device) {
        let (_, pooled) = Dispatch::conv3x3_pool(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            pad,
            true,
            false,
        );
        return Tensor::from_dispatch(pooled);
    }
    max_pool2x2(conv3x3_relu(x, weight, bias, pad))
}

/// [`conv3x3`] of `x` up-sampled 2x (nearest), then ReLU if `relu`, as one op where
/// [`Op::runs_on`] (on wgpu the kernels read `x` where the large image repeats it), else
/// Burn's `interpolate`, `conv2d` and `relu`.
pub fn conv3x3_up(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    pad: usize,
    relu: bool,
) -> Tensor<4> {
    conv_op(x, weight, bias, pad, relu, true)
}

/// The convolution op ([`KernelBackend::conv3x3`]) where [`Op::runs_on`], else Burn's layers
/// one after the other: `interpolate` if `up`, `conv2d`, `relu` if `relu`.
fn conv_op(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    pad: usize,
    relu: bool,
    up: bool,
) -> Tensor<4> {
    if Op::Conv.used_on(&x.device()) {
        return Tensor::from_dispatch(Dispatch::conv3x3(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            pad,
            relu,
            up,
        ));
    }
    let x = if up { conv::up2x_reference(x) } else { x };
    let y = conv::reference(x, weight, bias, pad);
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// A 3x3 transposed convolution of stride 2, padding 1 and output padding 1 (twice the side),
/// with bias, NCHW, `weight` `[c, o, 3, 3]`: the kernel where [`Op::runs_on`], else Burn's
/// `conv_transpose2d`.
pub fn conv_transpose3x3s2(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    up_op(x, weight, bias, false)
}

/// [`conv_transpose3x3s2`] and then ReLU, as one op where [`Op::runs_on`] (on wgpu the
/// forward one kernel; the backward masks the output gradient in a launch of its own, then the
/// gradient kernel), else Burn's `conv_transpose2d` and `relu`.
pub fn conv_transpose3x3s2_relu(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    up_op(x, weight, bias, true)
}

/// The transposed convolution op ([`KernelBackend::conv_transpose3x3s2`]) where
/// [`Op::runs_on`], else Burn's `conv_transpose2d` and, if `relu`, `relu`.
fn up_op(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, relu: bool) -> Tensor<4> {
    if Op::ConvTranspose.used_on(&x.device()) {
        return Tensor::from_dispatch(Dispatch::conv_transpose3x3s2(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            relu,
        ));
    }
    let y = conv_transpose::reference(x, weight, bias);
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// The mean over every element of the BCE-with-logits of [`conv3x3_up`]'s output without
/// ReLU (of `x` up-sampled 2x if `up`, else of `x`: the logits, `[b, o, oh, ow]`) against `t`
/// (shaped alike), `[1]`: one op where [`Op::Conv`] and [`Op::Bce`] are used and `t` needs no
/// gradient (on wgpu: the logits, their residuals and the loss's parts in one kernel, the
/// parts' sum in a second; backward the convolution's one gradient kernel, which applies the
/// loss's gradient to the residuals as it reads them); else the convolution op and
/// [`bce_with_logits_mean`] over each image's row of logits.
pub fn conv3x3_bce_mean(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    t: Tensor<4>,
    pad: usize,
    up: bool,
) -> Tensor<1> {
    let device = x.device();
    if Op::Conv.used_on(&device) && Op::Bce.used_on(&device) && !t.is_require_grad() {
        let (_, mean) = Dispatch::conv3x3_bce_mean(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            t.into_dispatch(),
            pad,
            up,
        );
        return Tensor::from_dispatch(mean);
    }
    let z = conv_op(x, weight, bias, pad, false, up);
    let [b, o, h, w] = z.dims();
    bce_with_logits_mean(z.reshape([b, o * h * w]), t.reshape([b, o * h * w]))
}
