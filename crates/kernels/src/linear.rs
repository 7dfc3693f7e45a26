//! The fully connected layer, `x [b, n] · weight [n, o] + bias [o]` and ReLU or not, as one op
//! ([`crate::KernelBackend::dense`]): on wgpu two kernels of ours (`cube/linear/`: the
//! output; the three gradients together), where Burn's layer takes five. On the CPU backends
//! the op is Burn's own operations ([`forward`], [`backward`]): the models call Burn's layer
//! there ([`crate::Op::runs_on`]), and these are what the GPU kernels are tested against, beside
//! [`reference`].

use crate::host::{self, Host};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::prelude::*;
use burn::tensor::{FloatDType, Shape};

/// The layer from Burn's tensor operations, as `burn::nn::Linear` computes it: the matrix
/// product, the bias added, then `max(., 0)` if `relu`.
pub fn reference(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, relu: bool) -> Tensor<2> {
    let y = x.matmul(weight) + bias.unsqueeze_dim(0);
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// The op on a backend's primitive tensors: Burn's own `linear` (the product, the bias added),
/// then `max(., 0)` if `relu`.
pub fn forward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let y = B::linear(x, weight, Some(bias));
    if relu { B::relu(y) } else { y }
}

/// The gradients of [`forward`] for the output gradient `grad` (`[x, weight, out, grad]`, `out`
/// the layer's output, read only with `relu`), from Burn's own gradient operations: the
/// input's (`[0]` unless `need_x`), the weight's and the bias's (`[0]` unless `need_w`).
pub fn backward<B: Backend>(
    [x, weight, out, grad]: [FloatTensor<B>; 4],
    relu: bool,
    need_x: bool,
    need_w: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let none = || B::float_empty(Shape::new([0]), &x.device(), FloatDType::from(x.dtype()));
    let d = if relu {
        B::relu_backward(out, grad)
    } else {
        grad
    };
    let gx = if need_x {
        B::linear_x_backward(weight, d.clone())
    } else {
        none()
    };
    let (gw, gb) = if need_w {
        let gb = B::linear_bias_backward(d.clone());
        (B::linear_weight_backward(x.clone(), d), gb)
    } else {
        (none(), none())
    };
    (gx, gw, gb)
}

/// The layer without ReLU and the mean of its logits' BCE-with-logits against `t`, on a CPU
/// backend: [`forward`] and the loss's host loops, which keep the residuals `sigmoid(z) - t`:
/// `(residuals, [1] mean)`.
pub(crate) fn forward_bce_mean<B: Host>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    t: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let z = forward::<B>(x, weight, bias, false);
    let (mean, d) = host::bce_mean::<B>(z, t, true);
    (d, mean)
}

/// The gradients of [`forward_bce_mean`] for the mean's gradient `grad` (`[x, weight, d,
/// grad]`, `d` the residuals): the logits' gradient `d grad / count`, then [`backward`].
pub(crate) fn backward_bce_mean<B: Host>(
    [x, weight, d, grad]: [FloatTensor<B>; 4],
    need_x: bool,
    need_w: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let gz = host::residual_grad::<B>(d.clone(), &grad);
    backward::<B>([x, weight, d, gz], false, need_x, need_w)
}
