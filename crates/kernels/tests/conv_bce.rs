//! The output convolution and the mean loss after it as one op
//! (`KernelBackend::conv3x3_bce_mean`; `ae_kernels::conv3x3_bce_mean` in the models) against
//! Burn's convolution (`conv::reference`, of the input up-sampled by `conv::up2x_reference`
//! where the op up-samples) and the loss from Burn's operations (`bce::mean_reference`): the
//! residuals, the mean, and the input's, weight's and bias's gradients, on flex, ndarray and
//! wgpu (our kernels there; lavapipe where there is no GPU), on contiguous inputs and on views
//! of NHWC memory.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).

mod common;

use ae_kernels::{KernelBackend, bce, conv};
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::{Distribution, activation};
use common::ops::random4 as random;
use common::{all_devices, assert_close, values};

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// The residuals, the mean and the three gradients (of the mean times `scale`, so that the
/// logits' gradients are about 1 and the tolerance tells right from wrong), through the op
/// (`fused`) or through Burn's operations.
fn run(
    fused: bool,
    [x, k]: [&Tensor<4>; 2],
    bias: &Tensor<1>,
    t: &Tensor<4>,
    (pad, up): (usize, bool),
) -> [Vec<f32>; 5] {
    let (x, k, bias) = (
        x.clone().require_grad(),
        k.clone().require_grad(),
        bias.clone().require_grad(),
    );
    let (mean, residuals) = if fused {
        let (d, mean) = Dispatch::conv3x3_bce_mean(
            x.clone().into_dispatch(),
            k.clone().into_dispatch(),
            bias.clone().into_dispatch(),
            t.clone().into_dispatch(),
            pad,
            up,
        );
        (
            Tensor::<1>::from_dispatch(mean),
            Tensor::<4>::from_dispatch(d),
        )
    } else {
        let image = if up {
            conv::up2x_reference(x.clone())
        } else {
            x.clone()
        };
        let z = conv::reference(image, k.clone(), bias.clone(), pad);
        let d = activation::sigmoid(z.clone()) - t.clone();
        let [b, o, h, w] = z.dims();
        let rows = |v: Tensor<4>| v.reshape([b, o * h * w]);
        (bce::mean_reference(rows(z), rows(t.clone())), d)
    };
    let scale = residuals.dims().iter().product::<usize>() as f32;
    let g = mean.clone().mul_scalar(scale).sum().backward();
    [
        values(residuals.inner()),
        values(mean.inner()),
        values(x.grad(&g).unwrap()),
        values(k.grad(&g).unwrap()),
        values(bias.grad(&g).unwrap()),
    ]
}

/// Odd sizes, padding 0 and 1, up-sampled or not, nine output channels (a block of eight and
/// one more on wgpu), and conv-ae's output head at batch 64 (more logits than one cube sums:
/// the loss in parts, and the weight sums in parts).
#[test]
fn the_convolution_with_the_loss_after_it_matches_burn_s() {
    for device in all_devices() {
        let ad = device.clone().autodiff();
        for (b, c, o, h, w, pad, up, nhwc) in [
            (1, 1, 1, 1, 1, 1, false, false),
            (2, 3, 2, 5, 7, 1, false, false),
            (3, 4, 1, 5, 6, 0, true, false),
            (2, 3, 9, 4, 5, 1, true, true),
            (64, 16, 1, 14, 14, 1, true, true),
        ] {
            let what = format!(
                "{device:?} b{b} {c}->{o} {h}x{w} pad {pad}, up: {up}, NHWC memory: {nhwc}"
            );
            let x = random([b, c, h, w], nhwc, &ad);
            let k = Tensor::<4>::random([o, c, 3, 3], NORMAL, &ad);
            let bias = Tensor::<1>::random([o], NORMAL, &ad);
            let s = if up { 2 } else { 1 };
            let side = |n: usize| n * s + 2 * pad - 2;
            let t = random([b, o, side(h), side(w)], nhwc, &ad)
                .clamp(-2.0, 2.0)
                .div_scalar(4.0)
                .add_scalar(0.5);
            let how = (pad, up);
            let (ours, burn) = (
                run(true, [&x, &k], &bias, &t, how),
                run(false, [&x, &k], &bias, &t, how),
            );
            let parts = [
                "residuals",
                "mean",
                "input grad",
                "weight grad",
                "bias grad",
            ];
            for ((a, r), part) in ours.iter().zip(&burn).zip(parts) {
                assert_close(a, r, &format!("{part}, {what}"));
            }
            // The models' entry point: the op, the same mean.
            let public =
                ae_kernels::conv3x3_bce_mean(x.clone(), k.clone(), bias.clone(), t, pad, up);
            assert_close(
                &values(public.inner()),
                &burn[1],
                &format!("public, {what}"),
            );
        }
    }
}

/// A target that needs a gradient takes Burn's operations, and gets its gradient.
#[test]
fn a_tracked_target_takes_the_unfused_ops_and_gets_its_gradient() {
    for device in all_devices() {
        let ad = device.clone().autodiff();
        let x = Tensor::<4>::random([2, 3, 4, 4], NORMAL, &ad);
        let k = Tensor::<4>::random([1, 3, 3, 3], NORMAL, &ad).require_grad();
        let bias = Tensor::<1>::random([1], NORMAL, &ad);
        let t = Tensor::<4>::random([2, 1, 8, 8], Distribution::Default, &ad).require_grad();
        let mean = ae_kernels::conv3x3_bce_mean(x, k.clone(), bias, t.clone(), 1, true);
        let g = mean.backward();
        assert!(t.grad(&g).is_some(), "{device:?}: the target's gradient");
        assert!(k.grad(&g).is_some(), "{device:?}: the weight's gradient");
    }
}
