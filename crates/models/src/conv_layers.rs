//! The convolutional nets' layers: a 3x3 convolution (with ReLU, the 2x up-sampling before it,
//! the 2x2 max-pool after it), each through ae-kernels' one op where the device uses it, else
//! through Burn's layers; and the output head, alone or with the mean loss after it as one op.

use crate::activation::Activation;
use crate::layout::dense_one_channel;
use crate::loss::ReconLoss;
use burn::nn::conv::Conv2d;
use burn::nn::interpolate::Interpolate2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The conv nets' last step: the output convolution (of `x` up-sampled by `up` first, if
/// given), its result cropped to the image's `[h, w]` where the decoder overshot, one channel
/// made dense for wgpu's fusion (layout.rs).
pub(crate) fn output_head(
    out: &Conv2d,
    x: Tensor<4>,
    image: [usize; 2],
    up: Option<&Interpolate2d>,
) -> Tensor<4> {
    let x = conv3x3(
        out,
        x,
        Conv3x3 {
            pad: 1,
            up,
            relu: false,
        },
    );
    let [batch, c, h, w] = x.dims();
    let [ih, iw] = image;
    let x = if [h, w] == [ih, iw] {
        x
    } else {
        x.slice([0..batch, 0..c, 0..ih, 0..iw])
    };
    dense_one_channel(x)
}

/// How a 3x3 convolution layer is applied: its padding (which its layer also has), the 2x
/// up-sampling of its input first (with this layer) or not, ReLU after it or not.
#[derive(Clone, Copy)]
pub(crate) struct Conv3x3<'a> {
    pub pad: usize,
    pub up: Option<&'a Interpolate2d>,
    pub relu: bool,
}

/// A 3x3 convolution as `how` says: ae-kernels' one op where it runs (flex, ndarray, wgpu:
/// with the up-sampling and the ReLU inside), else Burn's layers, a one-channel output made
/// dense for wgpu's fusion (layout.rs).
pub(crate) fn conv3x3(conv: &Conv2d, x: Tensor<4>, how: Conv3x3) -> Tensor<4> {
    match &conv.bias {
        Some(bias) if ae_kernels::Op::Conv.used_on(&x.device()) => {
            let (w, b, pad) = (conv.weight.val(), bias.val(), how.pad);
            match (how.up, how.relu) {
                (Some(_), relu) => ae_kernels::conv3x3_up(x, w, b, pad, relu),
                (None, true) => ae_kernels::conv3x3_relu(x, w, b, pad),
                (None, false) => ae_kernels::conv3x3(x, w, b, pad),
            }
        }
        _ => {
            let x = match how.up {
                Some(up) => up.forward(x),
                None => x,
            };
            let y = dense_one_channel(conv.forward(x));
            if how.relu { relu(y) } else { y }
        }
    }
}

/// A 3x3 convolution with `pad` on every side, then ReLU ([`conv3x3`]).
pub(crate) fn conv3x3_relu(conv: &Conv2d, x: Tensor<4>, pad: usize) -> Tensor<4> {
    conv3x3(
        conv,
        x,
        Conv3x3 {
            pad,
            up: None,
            relu: true,
        },
    )
}

/// The 2x2 max-pool, rounding up: ae-kernels' where it runs (flex, ndarray, wgpu), else the
/// layer's own.
pub(crate) fn pool2x2(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    if ae_kernels::Op::MaxPool.used_on(&x.device()) {
        ae_kernels::max_pool2x2(x)
    } else {
        pool.forward(x)
    }
}

/// A 3x3 convolution with `pad` on every side, ReLU, then the 2x2 max-pool (rounding up):
/// ae-kernels' one op where both run (flex, ndarray, wgpu), else [`conv3x3_relu`] and
/// [`pool2x2`].
pub(crate) fn conv3x3_relu_pool(
    conv: &Conv2d,
    pool: &MaxPool2d,
    x: Tensor<4>,
    pad: usize,
) -> Tensor<4> {
    let device = x.device();
    match &conv.bias {
        Some(bias)
            if ae_kernels::Op::Conv.used_on(&device)
                && ae_kernels::Op::MaxPool.used_on(&device) =>
        {
            ae_kernels::conv3x3_relu_pool(x, conv.weight.val(), bias.val(), pad)
        }
        _ => pool2x2(pool, conv3x3_relu(conv, x, pad)),
    }
}

/// The mean reconstruction loss `recon` of `target` from the output head ([`output_head`],
/// sigmoid output) on `x`: with BCE, where ae-kernels' convolution and loss are both used and
/// the output needs no crop, the head's convolution and the loss as one op
/// ([`ae_kernels::conv3x3_bce_mean`]: on wgpu the loss's gradient is applied inside the
/// convolution's gradient kernel, no launch of its own); else the head and
/// [`ReconLoss::mean`].
pub(crate) fn output_loss(
    out: &Conv2d,
    x: Tensor<4>,
    image: [usize; 2],
    up: Option<&Interpolate2d>,
    target: Tensor<4>,
    recon: ReconLoss,
) -> Tensor<1> {
    let device = x.device();
    let [_, _, h, w] = x.dims();
    let scale = if up.is_some() { 2 } else { 1 };
    if let Some(bias) = &out.bias
        && recon == ReconLoss::Bce
        && ae_kernels::Op::Conv.used_on(&device)
        && ae_kernels::Op::Bce.used_on(&device)
        && [h * scale, w * scale] == image
    {
        let (weight, bias) = (out.weight.val(), bias.val());
        return ae_kernels::conv3x3_bce_mean(x, weight, bias, target, 1, up.is_some());
    }
    recon.mean(output_head(out, x, image, up), target, Activation::Sigmoid)
}
