//! The fully connected layer op (`KernelBackend::dense`; `ae_kernels::linear` in the models)
//! against Burn's `Linear` arithmetic (`linear::reference`): the output and the input's,
//! weight's and bias's gradients, with and without ReLU, on contiguous inputs and on
//! transposed views, with and without autodiff. On wgpu it is our two kernels (lavapipe where
//! there is no GPU); on flex and ndarray the op is Burn's own operations behind the trait and
//! the hand-written autodiff node, which this checks too.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).
//! That every block of rows a unit may take gives the same values: `blocks.rs`.

mod common;

use ae_kernels::{KernelBackend, Op, bce, linear};
use burn::backend::Dispatch;
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::ops::{dense as ours, grid2, on_grid, random2 as random};
use common::{assert_close, devices, output_and_grads, values};

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// The devices to test, each with whether it is wgpu: flex, ndarray, and wgpu unless this
/// run's backend list leaves it out.
fn all_devices() -> Vec<(Device, bool)> {
    let mut all: Vec<_> = devices().into_iter().map(|d| (d, false)).collect();
    match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) if !list.split(',').any(|b| b.trim() == "wgpu") => {
            eprintln!("NOTE: the dense layer on wgpu left out: not in AE_TEST_BACKENDS ({list})");
        }
        _ => all.push((Device::wgpu(DeviceKind::DefaultDevice), true)),
    }
    all
}

/// Burn's arithmetic.
fn burn_s(relu: bool) -> impl Fn(Tensor<2>, Tensor<2>, Tensor<1>) -> Tensor<2> {
    move |x, w, b| linear::reference(x, w, b, relu)
}

#[test]
fn the_dense_layer_and_its_gradients_match_burn_s() {
    for (device, _) in all_devices() {
        let ad = device.clone().autodiff();
        // dense-ae's two layers at its batch, the VAE's heads' shape, odd sizes.
        for (batch, n, o, transposed) in [
            (1, 1, 1, false),
            (3, 5, 7, false),
            (256, 784, 32, false),
            (256, 32, 784, false),
            (5, 400, 2, false),
            (6, 9, 11, true),
        ] {
            // On a grid where every sum is exact (`on_grid`), so that ReLU passes the
            // gradient at the same outputs here as in Burn's layer.
            let x = grid2(batch, n, transposed, &ad);
            let w = grid2(n, o, transposed, &ad);
            let b = on_grid(Tensor::<1>::random([o], NORMAL, &ad));
            let mix = Tensor::<2>::random([batch, o], NORMAL, &ad);
            for relu in [false, true] {
                let what =
                    format!("{device:?} {batch}x{n} -> {o}, ReLU {relu}, views {transposed}");
                let (a, r) = (
                    output_and_grads(ours(relu), [&x, &w], &b, &mix),
                    output_and_grads(burn_s(relu), [&x, &w], &b, &mix),
                );
                for (k, part) in ["output", "input grad", "weight grad", "bias grad"]
                    .iter()
                    .enumerate()
                {
                    assert_close(&a[k], &r[k], &format!("{part}, {what}"));
                }
                // Without autodiff: the op alone.
                let (xi, wi, bi) = (x.clone().inner(), w.clone().inner(), b.clone().inner());
                assert_close(
                    &values(ours(relu)(xi.clone(), wi.clone(), bi.clone())),
                    &values(burn_s(relu)(xi, wi, bi)),
                    &format!("output without autodiff, {what}"),
                );
            }
        }
    }
}

/// Outputs of exactly 0 after ReLU pass no gradient (Burn's rule); an input that needs none
/// gets none and the weight's still come; fixed weights give the input's alone.
#[test]
fn the_dense_layer_s_gradients_follow_what_is_tracked_and_relu_s_rule() {
    for (device, _) in all_devices() {
        let ad = device.clone().autodiff();
        let what = format!("{device:?}");
        // Zero weights and bias: every output is 0, so under ReLU every gradient is 0.
        let x = Tensor::<2>::random([4, 3], NORMAL, &ad);
        let (w, b) = (
            Tensor::<2>::zeros([3, 5], &ad),
            Tensor::<1>::zeros([5], &ad),
        );
        let mix = Tensor::<2>::random([4, 5], NORMAL, &ad);
        let [_, gx, gw, gb] = output_and_grads(ours(true), [&x, &w], &b, &mix);
        assert!(gx.iter().chain(&gw).chain(&gb).all(|&g| g == 0.0), "{what}");
        // An untracked input: the weight's and bias's gradients only.
        let w = w.require_grad();
        let b = b.require_grad();
        let g = ours(false)(x.clone(), w.clone(), b.clone())
            .sum()
            .backward();
        assert!(x.grad(&g).is_none(), "{what}");
        assert_eq!(values(b.grad(&g).unwrap()), [4.0; 5], "{what}");
        // Fixed weights, a tracked input: the input's alone, and right.
        let (w, b) = (
            Tensor::<2>::random([3, 5], NORMAL, &ad),
            Tensor::<1>::random([5], NORMAL, &ad),
        );
        let input_grad = |op: &dyn Fn(Tensor<2>, Tensor<2>, Tensor<1>) -> Tensor<2>| {
            let x = x.clone().require_grad();
            let g = (op(x.clone(), w.clone(), b.clone()) * mix.clone())
                .sum()
                .backward();
            assert!(w.grad(&g).is_none() && b.grad(&g).is_none(), "{what}");
            values(x.grad(&g).unwrap())
        };
        assert_close(
            &input_grad(&ours(true)),
            &input_grad(&burn_s(true)),
            &format!("input gradient with fixed weights, {what}"),
        );
    }
}

/// The models' entry point: our op where `Op::Linear` runs (wgpu), Burn's layer elsewhere,
/// with the same values either way.
#[test]
fn the_models_layers_take_the_op_on_wgpu_only_and_agree_with_burn_s_layer() {
    for (device, on_wgpu) in all_devices() {
        assert_eq!(Op::Linear.runs_on(&device), on_wgpu, "{device:?}");
        assert_eq!(Op::Linear.runs_on(&device.clone().autodiff()), on_wgpu);
        let layer = LinearConfig::new(13, 6).init(&device);
        let x = Tensor::<2>::random([9, 13], NORMAL, &device);
        for relu in [false, true] {
            let burn = layer.forward(x.clone());
            let burn = if relu {
                burn::tensor::activation::relu(burn)
            } else {
                burn
            };
            assert_close(
                &values(ae_kernels::linear(x.clone(), &layer, relu)),
                &values(burn),
                &format!("{device:?}, ReLU {relu}"),
            );
        }
    }
}

/// The layer and the loss's mean after it as one op (`dense_bce_mean`; `linear_bce_mean` in the
/// models): the mean, the residuals `sigmoid(z) - t` it keeps for the backward, and the
/// input's, weight's and bias's gradients against Burn's layer and the loss from Burn's
/// operations (`bce::mean_reference`), one cube's worth of logits and
/// dense-ae's 256 x 784 (a sum in parts), on contiguous inputs and views.
#[test]
fn the_dense_layer_with_the_loss_after_it_matches_burn_s() {
    for (device, on_wgpu) in all_devices() {
        let ad = device.clone().autodiff();
        for (batch, n, o, transposed) in [
            (1, 1, 1, false),
            (3, 5, 7, false),
            (256, 32, 784, false),
            (6, 9, 11, true),
        ] {
            let what = format!("{device:?} {batch}x{n} -> {o}, views {transposed}");
            let x = random(batch, n, transposed, &ad);
            let w = random(n, o, transposed, &ad);
            let b = Tensor::<1>::random([o], NORMAL, &ad);
            let t = Tensor::<2>::random([batch, o], Distribution::Default, &ad);
            // The mean's gradient scaled by the element count, so that the logits' gradients
            // are about 1 and the tolerance tells right from wrong.
            let scale = (batch * o) as f32;
            let run = |fused: bool| {
                let (x, w, b) = (
                    x.clone().require_grad(),
                    w.clone().require_grad(),
                    b.clone().require_grad(),
                );
                let (mean, residual) = if fused {
                    let (d, mean) = Dispatch::dense_bce_mean(
                        x.clone().into_dispatch(),
                        w.clone().into_dispatch(),
                        b.clone().into_dispatch(),
                        t.clone().into_dispatch(),
                    );
                    (
                        Tensor::<1>::from_dispatch(mean),
                        Tensor::<2>::from_dispatch(d),
                    )
                } else {
                    let z = linear::reference(x.clone(), w.clone(), b.clone(), false);
                    let d = burn::tensor::activation::sigmoid(z.clone()) - t.clone();
                    (bce::mean_reference(z, t.clone()), d)
                };
                let g = mean.clone().mul_scalar(scale).sum().backward();
                [
                    values(residual.inner()),
                    values(mean.inner()),
                    values(x.grad(&g).unwrap()),
                    values(w.grad(&g).unwrap()),
                    values(b.grad(&g).unwrap()),
                ]
            };
            let (a, r) = (run(true), run(false));
            for (k, part) in [
                "residuals",
                "mean",
                "input grad",
                "weight grad",
                "bias grad",
            ]
            .iter()
            .enumerate()
            {
                assert_close(&a[k], &r[k], &format!("{part}, {what}"));
            }
            if on_wgpu {
                // The models' entry point takes the op there.
                let layer = LinearConfig::new(n, o).init(&ad);
                let burn = bce::mean_reference(layer.forward(x.clone()), t.clone());
                assert_close(
                    &values(ae_kernels::linear_bce_mean(x.clone(), &layer, t.clone()).inner()),
                    &values(burn.inner()),
                    &format!("linear_bce_mean, {what}"),
                );
            }
        }
    }
}
