//! The BCE-with-logits kernel against the same loss from Burn's tensor operations on flex and
//! ndarray: per-row sums, and the gradients of the logits and of the targets, including
//! logits far out in both tails.

mod common;

use ae_kernels::{bce, bce_with_logits_mean, bce_with_logits_rows};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{devices, values};

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn sums_and_gradients_match_burn_s_element_wise_loss() {
    for device in devices() {
        let ad = device.clone().autodiff();
        for [rows, d] in [[1, 1], [3, 7], [256, 784], [5, 17]] {
            let what = format!("{rows}x{d} on {device:?}");
            // Logits from -40 to 40 (both tails), grey targets in [0, 1].
            let z = Tensor::<2>::random([rows, d], Distribution::Uniform(-40.0, 40.0), &ad);
            let t = Tensor::<2>::random([rows, d], Distribution::Default, &ad);
            let w = Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), &ad);
            let run = |ours: bool| {
                let (z, t) = (z.clone().require_grad(), t.clone().require_grad());
                let y = if ours {
                    bce_with_logits_rows(z.clone(), t.clone())
                } else {
                    bce::reference(z.clone(), t.clone())
                };
                let g = (y.clone() * w.clone()).sum().backward();
                (
                    values(y.inner()),
                    values(z.grad(&g).unwrap()),
                    values(t.grad(&g).unwrap()),
                )
            };
            let (ours, burn) = (run(true), run(false));
            assert_close(&ours.0, &burn.0, 1e-5, &format!("sums {what}"));
            assert_close(&ours.1, &burn.1, 1e-5, &format!("logit gradient {what}"));
            assert_close(&ours.2, &burn.2, 1e-5, &format!("target gradient {what}"));
        }
    }
}

#[test]
fn the_mean_and_its_gradients_match_burn_s_element_wise_loss() {
    for device in devices() {
        let ad = device.clone().autodiff();
        for [rows, d] in [[1, 1], [3, 7], [256, 784], [5, 17]] {
            let what = format!("{rows}x{d} on {device:?}");
            let z = Tensor::<2>::random([rows, d], Distribution::Uniform(-40.0, 40.0), &ad);
            let t = Tensor::<2>::random([rows, d], Distribution::Default, &ad);
            // The gradient weighted by the element count (times 0.7): entries about 1, so
            // that the tolerance tells right from wrong.
            let w = Tensor::<1>::from_data([0.7 * (rows * d) as f32], &ad);
            let run = |ours: bool| {
                let (z, t) = (z.clone().require_grad(), t.clone().require_grad());
                let y = if ours {
                    bce_with_logits_mean(z.clone(), t.clone())
                } else {
                    bce::mean_reference(z.clone(), t.clone())
                };
                let g = (y.clone() * w.clone()).sum().backward();
                (
                    values(y.inner()),
                    values(z.grad(&g).unwrap()),
                    values(t.grad(&g).unwrap()),
                )
            };
            let (ours, burn) = (run(true), run(false));
            assert_eq!(ours.0.len(), 1, "one number {what}");
            assert_close(&ours.0, &burn.0, 1e-5, &format!("mean {what}"));
            assert_close(&ours.1, &burn.1, 1e-5, &format!("logit gradient {what}"));
            assert_close(&ours.2, &burn.2, 1e-5, &format!("target gradient {what}"));
        }
    }
}

#[test]
fn extreme_logits_stay_finite_and_exact() {
    let device = Device::flex();
    let z = Tensor::<2>::from_data([[-100.0f32, -20.0, 0.0, 20.0, 100.0]], &device);
    let t = Tensor::<2>::from_data([[0.0f32, 1.0, 0.5, 0.0, 1.0]], &device);
    let ours = values(bce_with_logits_rows(z.clone(), t.clone()))[0];
    // 0 + 20 + ln 2 + 20 + 0, and the tails' exp(-20) terms.
    let expected = 40.0 + 2.0f32.ln() + 2.0 * (-20.0f32).exp();
    assert!((ours - expected).abs() < 1e-5, "{ours} vs {expected}");
    assert!(values(bce::reference(z, t))[0].is_finite());
}

/// At a logit of exactly 0 (a layer's output where its inputs are all zero and its bias is 0)
/// the gradient is `sigmoid(0) - t = 1/2 - t`, in the kernel and in the reference alike; the
/// reference once took the kink's subgradients of `max(z, 0)` and `|z|` there and gave `-t`.
#[test]
fn the_gradient_at_a_zero_logit_is_one_half_minus_the_target() {
    for device in devices() {
        let ad = device.clone().autodiff();
        let targets = [0.0f32, 0.25, 0.5, 1.0];
        for ours in [true, false] {
            let z = Tensor::<2>::zeros([1, 4], &ad).require_grad();
            let t = Tensor::<2>::from_data([targets], &ad);
            let y = if ours {
                bce_with_logits_rows(z.clone(), t)
            } else {
                bce::reference(z.clone(), t)
            };
            let grad = values(z.grad(&y.sum().backward()).unwrap());
            let want: Vec<f32> = targets.iter().map(|t| 0.5 - t).collect();
            assert_close(&grad, &want, 1e-6, &format!("ours {ours} on {device:?}"));
        }
    }
}
