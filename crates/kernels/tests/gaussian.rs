//! The VAE's Gaussian code as one op (`KernelBackend::gaussian_code`; `gaussian::gaussian_code`
//! in the models) against Burn's layers and tensor operations (`gaussian::reference`): the
//! draw, the KL, and the gradients of `sum(z * mix) + kl_weight * KL` for the features and both
//! heads' weights and biases, the KL's reaching them through the draw's backward. One cube's
//! worth of code elements and the VAE's 128 x 20 (the KL in parts), contiguous and transposed
//! views. On wgpu our two kernels each way (lavapipe where there is no GPU); on flex and
//! ndarray Burn's operations behind the trait and the hand-written autodiff node.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).

mod common;

use ae_kernels::{KernelBackend, Op, gaussian};
use burn::backend::Dispatch;
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{assert_close, devices, values};

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// flex, ndarray, and wgpu unless this run's backend list leaves it out; each with whether it
/// is wgpu.
fn all_devices() -> Vec<(Device, bool)> {
    let mut all: Vec<_> = devices().into_iter().map(|d| (d, false)).collect();
    match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) if !list.split(',').any(|b| b.trim() == "wgpu") => {
            eprintln!("NOTE: the Gaussian code on wgpu left out: not in AE_TEST_BACKENDS ({list})");
        }
        _ => all.push((Device::wgpu(DeviceKind::DefaultDevice), true)),
    }
    all
}

/// `[rows, cols]` normal values times `scale`, contiguous or as the transposed view of
/// `[cols, rows]` memory.
fn random(rows: usize, cols: usize, scale: f32, transposed: bool, device: &Device) -> Tensor<2> {
    let t = if transposed {
        Tensor::<2>::random([cols, rows], NORMAL, device).transpose()
    } else {
        Tensor::<2>::random([rows, cols], NORMAL, device)
    };
    t.mul_scalar(scale)
}

/// A head `n -> k` whose outputs are about N(0, 1): weights scaled by `1 / sqrt(n)`, so that
/// `exp(logvar)` stays in range.
fn head(n: usize, k: usize, transposed: bool, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(n, k).init(device);
    let w = random(n, k, 1.0 / (n as f32).sqrt(), transposed, device);
    layer.weight = Param::from_tensor(w.require_grad());
    let b = Tensor::<1>::random([k], NORMAL, device).mul_scalar(0.5);
    layer.bias = Some(Param::from_tensor(b.require_grad()));
    layer
}

/// The draw, the KL, and the gradients of `sum(z * mix) + kl_weight * KL` for `h` and both
/// heads' weights and biases: through the op if `fused`, else through the reference.
fn run(
    fused: bool,
    [h, eps, mix]: [&Tensor<2>; 3],
    [mu, logvar]: [&Linear; 2],
    kl_weight: f32,
) -> Vec<Vec<f32>> {
    let h = h.clone().require_grad();
    let (z, kl, loss) = if fused {
        let (b1, b2) = (mu.bias.as_ref().unwrap(), logvar.bias.as_ref().unwrap());
        let weight = Tensor::<1>::from_floats([kl_weight], &h.device());
        let (z, _, kl) = Dispatch::gaussian_code(
            h.clone().into_dispatch(),
            mu.weight.val().into_dispatch(),
            b1.val().into_dispatch(),
            logvar.weight.val().into_dispatch(),
            b2.val().into_dispatch(),
            eps.clone().into_dispatch(),
            weight.into_dispatch(),
        );
        let (z, kl) = (
            Tensor::<2>::from_dispatch(z),
            Tensor::<1>::from_dispatch(kl),
        );
        // The KL is a value here: its gradient comes through the draw's backward.
        assert!(!kl.is_require_grad());
        let loss = (z.clone() * mix.clone()).sum() + kl.clone().mul_scalar(kl_weight);
        (z, kl, loss)
    } else {
        let (z, _, _, kl) = gaussian::reference(h.clone(), mu, logvar, eps.clone());
        let loss = (z.clone() * mix.clone()).sum() + kl.clone().mul_scalar(kl_weight);
        (z, kl, loss)
    };
    let g = loss.backward();
    let grad2 = |p: &Tensor<2>| values(p.grad(&g).unwrap());
    let grad1 = |p: &Tensor<1>| values(p.grad(&g).unwrap());
    vec![
        values(z.inner()),
        values(kl.inner()),
        grad2(&h),
        grad2(&mu.weight.val()),
        grad1(&mu.bias.as_ref().unwrap().val()),
        grad2(&logvar.weight.val()),
        grad1(&logvar.bias.as_ref().unwrap().val()),
    ]
}

#[test]
fn the_gaussian_code_and_its_gradients_match_burn_s_operations() {
    const PARTS: [&str; 7] = [
        "draw",
        "KL",
        "features' grad",
        "mean weight grad",
        "mean bias grad",
        "log-variance weight grad",
        "log-variance bias grad",
    ];
    for (device, _) in all_devices() {
        let ad = device.clone().autodiff();
        // The dense VAE at batch 128 (2,560 code elements: ten cubes, the KL in parts),
        // a single element, odd sizes, views.
        for (batch, n, k, transposed) in [
            (1, 1, 1, false),
            (3, 5, 2, false),
            (128, 400, 20, false),
            (7, 9, 3, true),
        ] {
            let h = random(batch, n, 1.0, transposed, &ad);
            let eps = random(batch, k, 1.0, transposed, &ad);
            let mix = random(batch, k, 1.0, false, &ad);
            let (mu, logvar) = (head(n, k, transposed, &ad), head(n, k, transposed, &ad));
            // No KL in the gradient (the warm-up's start), the ELBO's, a beta-VAE's.
            for kl_weight in [0.0, 1.0, 4.0] {
                let what = format!(
                    "{device:?} {batch}x{n} -> {k}, weight {kl_weight}, views {transposed}"
                );
                let a = run(true, [&h, &eps, &mix], [&mu, &logvar], kl_weight);
                let r = run(false, [&h, &eps, &mix], [&mu, &logvar], kl_weight);
                for (i, part) in PARTS.iter().enumerate() {
                    assert_close(&a[i], &r[i], &format!("{part}, {what}"));
                }
            }
        }
    }
}

/// Fixed heads and tracked features: the features' gradient alone, and right; tracked heads
/// and untracked features: the heads' alone.
#[test]
fn the_gaussian_code_s_gradients_follow_what_is_tracked() {
    for (device, _) in all_devices() {
        let ad = device.clone().autodiff();
        let what = format!("{device:?}");
        let (b, n, k) = (5, 6, 3);
        let h = random(b, n, 1.0, false, &ad);
        let eps = random(b, k, 1.0, false, &ad);
        let (mu, logvar) = (head(n, k, false, &ad), head(n, k, false, &ad));
        let fixed = |l: &Linear| {
            let mut l = l.clone().no_grad();
            l.weight = l.weight.set_require_grad(false);
            l
        };
        let (fmu, flv) = (fixed(&mu), fixed(&logvar));
        let code = |h: Tensor<2>, mu: &Linear, lv: &Linear, fused: bool| {
            if fused {
                let (b1, b2) = (mu.bias.as_ref().unwrap(), lv.bias.as_ref().unwrap());
                let (z, _, kl) = Dispatch::gaussian_code(
                    h.into_dispatch(),
                    mu.weight.val().into_dispatch(),
                    b1.val().into_dispatch(),
                    lv.weight.val().into_dispatch(),
                    b2.val().into_dispatch(),
                    eps.clone().into_dispatch(),
                    Tensor::<1>::from_floats([1.0], &ad).into_dispatch(),
                );
                Tensor::<2>::from_dispatch(z).sum() + Tensor::<1>::from_dispatch(kl)
            } else {
                let (z, _, _, kl) = gaussian::reference(h, mu, lv, eps.clone());
                z.sum() + kl
            }
        };
        let features = |fused: bool| {
            let h = h.clone().require_grad();
            let g = code(h.clone(), &fmu, &flv, fused).backward();
            assert!(fmu.weight.val().grad(&g).is_none(), "{what}");
            values(h.grad(&g).unwrap())
        };
        assert_close(
            &features(true),
            &features(false),
            &format!("features' grad, {what}"),
        );
        let g = code(h.clone(), &mu, &logvar, true).backward();
        assert!(h.grad(&g).is_none(), "{what}");
        let g_ref = code(h.clone(), &mu, &logvar, false).backward();
        for (a, r) in [&mu, &logvar].iter().zip([&mu, &logvar]) {
            assert_close(
                &values(a.weight.val().grad(&g).unwrap()),
                &values(r.weight.val().grad(&g_ref).unwrap()),
                &format!("head weight grad, untracked features, {what}"),
            );
        }
    }
}

/// The models' entry point takes the op on wgpu only, and elsewhere says so (`None`), and on
/// wgpu gives the reference's draw and KL.
#[test]
fn the_models_code_takes_the_op_on_wgpu_only() {
    for (device, on_wgpu) in all_devices() {
        let ad = device.clone().autodiff();
        assert_eq!(Op::Gaussian.runs_on(&device), on_wgpu, "{device:?}");
        assert_eq!(Op::Gaussian.runs_on(&ad), on_wgpu, "{device:?}");
        let (mu, logvar) = (head(8, 4, false, &ad), head(8, 4, false, &ad));
        let h = random(6, 8, 1.0, false, &ad);
        let eps = random(6, 4, 1.0, false, &ad);
        let got = gaussian::gaussian_code(h.clone(), &mu, &logvar, eps.clone(), 1.0);
        assert_eq!(got.is_some(), on_wgpu, "{device:?}");
        if let Some((z, kl)) = got {
            let (rz, _, _, rkl) = gaussian::reference(h, &mu, &logvar, eps);
            assert_close(&values(z.inner()), &values(rz.inner()), "draw");
            assert_close(&values(kl), &values(rkl.inner()), "KL");
        }
    }
}
