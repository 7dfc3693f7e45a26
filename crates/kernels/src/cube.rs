//! The ops on CubeCL's backend (wgpu; CUDA where built): our own kernels for the max-pool
//! (`cube/launch.rs`, with what the kernels share; the sums in `cube/sums.rs`), the loss
//! (`cube/loss.rs`), the fully connected layer (`cube/linear/`), the 3x3 convolution, with
//! its ReLU and the 2x up-sampling before it (`cube/conv/`), and the stride-2 transposed
//! convolution, with its ReLU (`cube/conv_transpose.rs`; ReLU's mask on the way back in
//! `cube/relu_mask.rs`). Behind Burn's fusion the extension runs each op as one opaque step
//! of the fusion stream, which nothing fuses across.

mod adam;
mod conv;
mod conv_transpose;
mod gaussian;
mod launch;
mod linear;
mod loss;
mod relu_mask;
mod sums;
mod unpack;

use crate::KernelBackend;
use crate::adam_group::{first_two, into_results, into_slots, two_as_four};
use burn::backend::ops::{FloatTensorOps, IntTensorOps};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{FloatDType, IntDType, TensorMetadata};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;

/// An empty (`[0]`) tensor beside `like`: a gradient that was not asked for.
fn nothing(like: &FloatTensor<CubeBackend>) -> FloatTensor<CubeBackend> {
    CubeBackend::float_empty(
        Shape::new([0]),
        &like.device,
        FloatDType::from(like.dtype()),
    )
}

impl KernelBackend for CubeBackend {
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        launch::max_pool2x2(x)
    }

    fn max_pool2x2_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        launch::max_pool2x2_backward(x, grad)
    }

    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> FloatTensor<Self> {
        let pool = false;
        conv::conv3x3(
            x,
            weight,
            bias,
            conv::Conv {
                pad,
                up,
                relu,
                pool,
            },
        )
    }

    fn conv3x3_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let pool = true;
        conv::conv3x3_pool(
            x,
            weight,
            bias,
            conv::Conv {
                pad,
                up,
                relu,
                pool,
            },
        )
    }

    fn conv3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
        pool: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = conv::Conv {
            pad,
            up,
            relu,
            pool,
        };
        let dy = conv::OutGrad {
            out,
            grad,
            mean: None,
        };
        conv_grads(x, weight, dy, shape, need_x, need_w)
    }

    fn conv3x3_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
        pad: usize,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        conv::conv3x3_bce_mean(x, weight, bias, t, pad, up)
    }

    fn conv3x3_bce_mean_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        d: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        pad: usize,
        up: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let shape = conv::Conv {
            pad,
            up,
            relu: false,
            pool: false,
        };
        // The residuals stand in for the output, which is not read.
        let dy = conv::OutGrad {
            out: d.clone(),
            grad: d,
            mean: Some(grad),
        };
        conv_grads(x, weight, dy, shape, need_x, need_w)
    }

    fn conv_transpose3x3s2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        conv_transpose::conv_transpose3x3s2(x, weight, bias, relu)
    }

    fn conv_transpose3x3s2_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        relu: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let none = nothing(&x);
        // ReLU's mask in a launch of its own: `conv_transpose.rs` says why.
        let grad = if relu {
            relu_mask::relu_masked(grad, out)
        } else {
            grad
        };
        let (gx, w) = conv_transpose::conv_transpose3x3s2_grads(x, weight, grad, need_x, need_w);
        let (gw, gb) = w.unwrap_or_else(|| (none.clone(), none.clone()));
        (gx.unwrap_or(none), gw, gb)
    }

    /// Keeps nothing: the gradient kernel computes `sigmoid(z) - t` again, in its one launch.
    fn bce_with_logits_rows(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let none = nothing(&z);
        (loss::bce_rows(z, t), none)
    }

    fn bce_with_logits_rows_backward(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _kept: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        loss::bce_backward(z, t, grad, need_t, false)
    }

    fn unpack_bytes(
        words: IntTensor<Self>,
        idx: IntTensor<Self>,
        c: usize,
        h: usize,
        w: usize,
    ) -> FloatTensor<Self> {
        // The kernel reads both as one integer type.
        let idx = if idx.dtype == words.dtype {
            idx
        } else {
            Self::int_cast(idx, IntDType::from(words.dtype()))
        };
        unpack::unpack_bytes(words, idx, [c, h, w], DType::F32)
    }

    /// Keeps nothing, as the row sums.
    fn bce_with_logits_mean(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let none = nothing(&z);
        (loss::bce_mean(z, t), none)
    }

    fn bce_with_logits_mean_backward(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _kept: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        loss::bce_backward(z, t, grad, need_t, true)
    }

    fn adam4(
        p0: FloatTensor<Self>,
        g0: FloatTensor<Self>,
        m0: FloatTensor<Self>,
        v0: FloatTensor<Self>,
        p1: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        v1: FloatTensor<Self>,
        p2: FloatTensor<Self>,
        g2: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        v2: FloatTensor<Self>,
        p3: FloatTensor<Self>,
        g3: FloatTensor<Self>,
        m3: FloatTensor<Self>,
        v3: FloatTensor<Self>,
        factors: FloatTensor<Self>,
        first: usize,
        count: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let slots = into_slots([
            p0, g0, m0, v0, p1, g1, m1, v1, p2, g2, m2, v2, p3, g3, m3, v3,
        ]);
        into_results(adam::adam4(slots, factors, first, count))
    }

    fn adam2(
        p0: FloatTensor<Self>,
        g0: FloatTensor<Self>,
        m0: FloatTensor<Self>,
        v0: FloatTensor<Self>,
        p1: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        v1: FloatTensor<Self>,
        factors: FloatTensor<Self>,
        first: usize,
        count: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        // The four-slot kernel, its last two slots stand-ins it neither reads nor writes.
        let slots = two_as_four([[p0, g0, m0, v0], [p1, g1, m1, v1]]);
        first_two(adam::adam4(slots, factors, first, count.min(2)))
    }

    fn gaussian_code(
        h: FloatTensor<Self>,
        wmu: FloatTensor<Self>,
        bmu: FloatTensor<Self>,
        wlv: FloatTensor<Self>,
        blv: FloatTensor<Self>,
        eps: FloatTensor<Self>,
        _kl_weight: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        gaussian::gaussian_code([h, wmu, bmu, wlv, blv, eps])
    }

    fn gaussian_code_backward(
        h: FloatTensor<Self>,
        wmu: FloatTensor<Self>,
        wlv: FloatTensor<Self>,
        heads: FloatTensor<Self>,
        eps: FloatTensor<Self>,
        gz: FloatTensor<Self>,
        kl_weight: FloatTensor<Self>,
        need_h: bool,
        need_w: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let like = h.clone();
        let tensors = [h, wmu, wlv, heads, eps, gz, kl_weight];
        let (gh, w) = gaussian::gaussian_grads(tensors, need_h, need_w);
        let [gwmu, gbmu, gwlv, gblv] = w.unwrap_or_else(|| [(); 4].map(|()| nothing(&like)));
        (gh.unwrap_or_else(|| nothing(&like)), gwmu, gbmu, gwlv, gblv)
    }

    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        linear::linear(x, weight, bias, relu)
    }

    fn dense_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        relu: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let then = if relu {
            linear::Then::Relu
        } else {
            linear::Then::Nothing
        };
        dense_grads([x, weight, out, grad], then, need_x, need_w)
    }

    fn dense_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        linear::linear_bce_mean(x, weight, bias, t)
    }

    fn dense_bce_mean_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        d: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        dense_grads([x, weight, d, grad], linear::Then::BceMean, need_x, need_w)
    }
}

/// The convolution's three gradients, `[0]` where not wanted.
fn conv_grads(
    x: FloatTensor<CubeBackend>,
    weight: FloatTensor<CubeBackend>,
    dy: conv::OutGrad,
    shape: conv::Conv,
    need_x: bool,
    need_w: bool,
) -> (
    FloatTensor<CubeBackend>,
    FloatTensor<CubeBackend>,
    FloatTensor<CubeBackend>,
) {
    let like = x.clone();
    let (gx, w) = conv::conv3x3_grads(x, weight, dy, shape, need_x, need_w);
    let (gw, gb) = w.unwrap_or_else(|| (nothing(&like), nothing(&like)));
    (gx.unwrap_or_else(|| nothing(&like)), gw, gb)
}

/// The fully connected layer's three gradients, `[0]` where not wanted.
fn dense_grads(
    tensors: [FloatTensor<CubeBackend>; 4],
    then: linear::Then,
    need_x: bool,
    need_w: bool,
) -> (
    FloatTensor<CubeBackend>,
    FloatTensor<CubeBackend>,
    FloatTensor<CubeBackend>,
) {
    let like = tensors[0].clone();
    let (gx, w) = linear::linear_grads(tensors, then, need_x, need_w);
    let (gw, gb) = w.unwrap_or_else(|| (nothing(&like), nothing(&like)));
    (gx.unwrap_or_else(|| nothing(&like)), gw, gb)
}
