//! The VAE's Gaussian code as one op ([`crate::KernelBackend::gaussian_code`]): the two heads
//! (`mu`, `logvar`), the draw `z = mu + exp(logvar / 2) eps` and the KL term, which Burn's
//! layers and tensor operations take some twenty launches for on wgpu, forward and backward.
//! On wgpu two kernels of ours each way (`cube/gaussian.rs`: the heads, the draw and each
//! cube's part of the KL, then the parts added; backward the five gradients in one kernel, the
//! sum of the parts where the batch is long); on the CPU backends Burn's own operations
//! ([`forward`], [`backward`]), which the models do not call there ([`crate::Op::runs_on`])
//! and which the GPU kernels are tested against, beside [`reference`].

use crate::KernelBackend;
use crate::ops::Op;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::{FloatDType, Scalar, Shape, Slice};

/// The code from Burn's layers and tensor operations, as the VAE computes it without the op:
/// `(z, mu, logvar, KL)`, the KL of each row (`-1/2 sum_j (1 + logvar_j - mu_j^2 -
/// exp(logvar_j))`) averaged over the rows.
pub fn reference(
    h: Tensor<2>,
    mu: &Linear,
    logvar: &Linear,
    eps: Tensor<2>,
) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<1>) {
    let m = mu.forward(h.clone());
    let lv = logvar.forward(h);
    let z = m.clone() + lv.clone().mul_scalar(0.5).exp() * eps;
    let batch = m.dims()[0];
    let inner = lv.clone().add_scalar(1.0) - m.clone().square() - lv.clone().exp();
    let kl = inner.sum_dim(1).reshape([batch]).mul_scalar(-0.5).mean();
    (z, m, lv, kl)
}

/// The draw and the KL of [`reference`] as one op where [`Op::Gaussian`] is used, the heads
/// have biases and `eps` needs no gradient: `Some((z, KL))`, the KL untracked, and the
/// gradient of `kl_weight * KL` added to the heads' in `z`'s backward. The caller's loss is
/// then `loss(z) + kl_weight * KL` with the KL as a value: its backward from `loss(z)` is
/// the gradient of the whole. `None` elsewhere: the caller uses [`reference`]'s operations.
pub fn gaussian_code(
    h: Tensor<2>,
    mu: &Linear,
    logvar: &Linear,
    eps: Tensor<2>,
    kl_weight: f32,
) -> Option<(Tensor<2>, Tensor<1>)> {
    let device = h.device();
    let (Some(bmu), Some(blv)) = (&mu.bias, &logvar.bias) else {
        return None;
    };
    if !Op::Gaussian.used_on(&device) || eps.is_require_grad() {
        return None;
    }
    let weight = Tensor::<1>::from_floats([kl_weight], &device);
    let (z, _, kl) = Dispatch::gaussian_code(
        h.into_dispatch(),
        mu.weight.val().into_dispatch(),
        bmu.val().into_dispatch(),
        logvar.weight.val().into_dispatch(),
        blv.val().into_dispatch(),
        eps.into_dispatch(),
        weight.into_dispatch(),
    );
    Some((Tensor::from_dispatch(z), Tensor::from_dispatch(kl)))
}

/// The op on a backend's primitive tensors (`[h, wmu, bmu, wlv, blv, eps]`), from Burn's own
/// operations: `(z, heads, KL)`.
pub fn forward<B: Backend>(
    [h, wmu, bmu, wlv, blv, eps]: [FloatTensor<B>; 6],
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let rows = h.shape()[0].max(1);
    let mu = B::linear(h.clone(), wmu, Some(bmu));
    let lv = B::linear(h, wlv, Some(blv));
    let sigma = B::float_exp(B::float_mul_scalar(lv.clone(), Scalar::from(0.5f32)));
    let z = B::float_add(mu.clone(), B::float_mul(sigma, eps));
    let square = B::float_mul(mu.clone(), mu.clone());
    let inner = B::float_sub(
        B::float_sub(
            B::float_add_scalar(lv.clone(), Scalar::from(1.0f32)),
            square,
        ),
        B::float_exp(lv.clone()),
    );
    let kl = B::float_mul_scalar(B::float_sum(inner), Scalar::from(-0.5 / rows as f32));
    (z, B::float_cat(vec![mu, lv], 1), kl)
}

/// The gradients of [`forward`] for `z`'s gradient plus `kl_weight` times the KL's
/// (`[h, wmu, wlv, heads, eps, gz, kl_weight]`), from Burn's own operations: the features'
/// (`[0]` unless `need_h`), then each head's weight's and bias's (`[0]` unless `need_w`).
#[allow(
    clippy::type_complexity,
    reason = "the five gradients, as the trait returns them"
)]
pub fn backward<B: Backend>(
    [h, wmu, wlv, heads, eps, gz, kl_weight]: [FloatTensor<B>; 7],
    need_h: bool,
    need_w: bool,
) -> (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
) {
    let none = || B::float_empty(Shape::new([0]), &h.device(), FloatDType::from(h.dtype()));
    let [b, k] = gz.shape().dims::<2>();
    let half = |t| B::float_mul_scalar(t, Scalar::from(0.5f32));
    let mu = B::float_slice(heads.clone(), &[Slice::from(0..b), Slice::from(0..k)]);
    let lv = B::float_slice(heads, &[Slice::from(0..b), Slice::from(k..2 * k)]);
    // The KL's factor over the rows, on every element.
    let scale = B::float_mul_scalar(kl_weight, Scalar::from(1.0 / b.max(1) as f32));
    let scale = B::float_expand(
        B::float_reshape(scale, Shape::new([1, 1])),
        Shape::new([b, k]),
    );
    // d/dmu: the draw's, and the KL's `mu`; d/dlogvar: the draw's `eps exp(logvar / 2) / 2`,
    // and the KL's `(exp(logvar) - 1) / 2`.
    let gmu = B::float_add(gz.clone(), B::float_mul(mu, scale.clone()));
    let draw = B::float_mul(B::float_mul(gz, eps), B::float_exp(half(lv.clone())));
    let kl = B::float_mul(
        B::float_add_scalar(B::float_exp(lv), Scalar::from(-1.0f32)),
        scale,
    );
    let glv = half(B::float_add(draw, kl));
    let gh = if need_h {
        B::float_add(
            B::linear_x_backward(wmu, gmu.clone()),
            B::linear_x_backward(wlv, glv.clone()),
        )
    } else {
        none()
    };
    if !need_w {
        return (gh, none(), none(), none(), none());
    }
    (
        gh,
        B::linear_weight_backward(h.clone(), gmu.clone()),
        B::linear_bias_backward(gmu),
        B::linear_weight_backward(h, glv.clone()),
        B::linear_bias_backward(glv),
    )
}
