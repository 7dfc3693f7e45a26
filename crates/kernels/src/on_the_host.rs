//! [`KernelBackend`] on the CPU backends (flex, ndarray): every op by host loops or Burn's own
//! operations (`host.rs`, `linear.rs`, `gaussian.rs`, `adam_group.rs`).

use crate::{KernelBackend, adam_group, gaussian, host, linear};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Flex, NdArray};

/// The CPU backends run every op as host loops.
macro_rules! on_the_host {
    ($backend:ty) => {
        impl KernelBackend for $backend {
            fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
                host::max_pool2x2::<Self>(x)
            }

            fn max_pool2x2_backward(
                x: FloatTensor<Self>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                host::max_pool2x2_backward::<Self>(x, grad)
            }

            fn conv3x3(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                pad: usize,
                relu: bool,
                up: bool,
            ) -> FloatTensor<Self> {
                host::conv3x3::<Self>(x, weight, bias, pad, relu, up)
            }

            fn conv3x3_pool(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                pad: usize,
                relu: bool,
                up: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                let y = Self::conv3x3(x, weight, bias, pad, relu, up);
                (y.clone(), host::max_pool2x2::<Self>(y))
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
                // The pool's and ReLU's gradients are applied as the convolution's backward
                // frames `grad`; the up-sampling as it frames `x` and stores the input
                // gradient.
                let fused = host::Fused {
                    pad,
                    up,
                    relu,
                    pool,
                };
                host::conv3x3_backward::<Self>([x, weight, out, grad], fused, need_x, need_w)
            }

            fn conv3x3_bce_mean(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                t: FloatTensor<Self>,
                pad: usize,
                up: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                let z = host::conv3x3::<Self>(x, weight, bias, pad, false, up);
                let (mean, d) = host::bce_mean_images::<Self>(z, t);
                (d, mean)
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
                // The logits' gradient `d grad / count`, then the convolution's backward.
                let gz = host::residual_grad::<Self>(d, &grad);
                let fused = host::Fused {
                    pad,
                    up,
                    relu: false,
                    pool: false,
                };
                host::conv3x3_backward::<Self>([x, weight, gz.clone(), gz], fused, need_x, need_w)
            }

            fn conv_transpose3x3s2(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                relu: bool,
            ) -> FloatTensor<Self> {
                host::conv_transpose3x3s2::<Self>(x, weight, bias, relu)
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
                let tensors = [x, weight, out, grad];
                host::conv_transpose3x3s2_backward::<Self>(tensors, relu, need_x, need_w)
            }

            fn dense(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                relu: bool,
            ) -> FloatTensor<Self> {
                linear::forward::<Self>(x, weight, bias, relu)
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
                linear::backward::<Self>([x, weight, out, grad], relu, need_x, need_w)
            }

            fn dense_bce_mean(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                t: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                linear::forward_bce_mean::<Self>(x, weight, bias, t)
            }

            fn dense_bce_mean_backward(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                d: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                need_x: bool,
                need_w: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                linear::backward_bce_mean::<Self>([x, weight, d, grad], need_x, need_w)
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
                gaussian::forward::<Self>([h, wmu, bmu, wlv, blv, eps])
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
                gaussian::backward::<Self>([h, wmu, wlv, heads, eps, gz, kl_weight], need_h, need_w)
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
                let slots = adam_group::into_slots([
                    p0, g0, m0, v0, p1, g1, m1, v1, p2, g2, m2, v2, p3, g3, m3, v3,
                ]);
                adam_group::into_results(adam_group::on_the_host::<Self>(
                    slots, factors, first, count,
                ))
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
                let slots = adam_group::two_as_four([[p0, g0, m0, v0], [p1, g1, m1, v1]]);
                adam_group::first_two(adam_group::on_the_host::<Self>(
                    slots,
                    factors,
                    first,
                    count.min(2),
                ))
            }

            fn bce_with_logits_rows(
                z: FloatTensor<Self>,
                t: FloatTensor<Self>,
                keep: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                host::bce_rows::<Self>(z, t, keep)
            }

            fn bce_with_logits_rows_backward(
                z: FloatTensor<Self>,
                t: FloatTensor<Self>,
                kept: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                need_t: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                host::bce_rows_backward::<Self>(z, t, kept, grad, need_t)
            }

            fn bce_with_logits_mean(
                z: FloatTensor<Self>,
                t: FloatTensor<Self>,
                keep: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                host::bce_mean::<Self>(z, t, keep)
            }

            fn bce_with_logits_mean_backward(
                z: FloatTensor<Self>,
                t: FloatTensor<Self>,
                kept: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                need_t: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                host::bce_mean_backward::<Self>(z, t, kept, grad, need_t)
            }

            fn unpack_bytes(
                words: IntTensor<Self>,
                idx: IntTensor<Self>,
                c: usize,
                h: usize,
                w: usize,
            ) -> FloatTensor<Self> {
                host::unpack_bytes::<Self>(words, idx, [c, h, w])
            }
        }
    };
}

on_the_host!(Flex);
on_the_host!(NdArray);
