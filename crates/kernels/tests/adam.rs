//! The one-pass Adam against Burn's Adam on flex and ndarray: the same parameters, bit for
//! bit, step after step (a layer with more weights than one thread's share, so the pass is
//! split), with the parameters shared (copied before the update, as in training, where the
//! last forward pass still holds them) and not; and the optimizer state written by either one
//! continues in the other.

mod common;

use ae_kernels::adam::FusedAdam;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use common::{devices, numbers, values};

const EPS: f32 = 1e-8;
const LR: f64 = 1e-2;
/// 150 x 131 = 19,650 weights: more than one thread's share of the pass (16,384).
const IN: usize = 150;
/// Outputs of the layer.
const OUT: usize = 131;

fn burn_adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(EPS).init()
}

/// The gradients of a weighted sum of the layer's outputs for inputs drawn from `seed`.
fn grads(model: &Linear, seed: u64, device: &Device) -> GradientsParams {
    let x = Tensor::<1>::from_floats(numbers(5 * IN, seed).as_slice(), device).reshape([5, IN]);
    let mix =
        Tensor::<1>::from_floats(numbers(5 * OUT, seed + 1).as_slice(), device).reshape([5, OUT]);
    let loss = (model.forward(x) * mix).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

/// The layer's weights and bias, as bits.
fn bits(model: &Linear) -> Vec<u32> {
    let mut all = values(model.weight.val().inner());
    if let Some(b) = &model.bias {
        all.extend(values(b.val().inner()));
    }
    all.iter().map(|v| v.to_bits()).collect()
}

/// `steps` steps of `optim` from `model`, keeping the module of each step alive through the
/// next if `share` (its parameters then are not the optimizer's alone).
fn train(
    optim: &mut ModuleOptimizer,
    mut model: Linear,
    seeds: std::ops::Range<u64>,
    share: bool,
    device: &Device,
) -> Linear {
    for seed in seeds {
        let g = grads(&model, 10 * seed, device);
        let kept = share.then(|| model.clone());
        model = optim.step(LR, model, g);
        drop(kept);
    }
    model
}

#[test]
fn each_step_equals_burn_s_adam_bit_for_bit() {
    for device in devices() {
        let ad = device.clone().autodiff();
        let start = LinearConfig::new(IN, OUT).init(&ad);
        for share in [false, true] {
            let mut fused = FusedAdam::init(EPS);
            let mut burn = burn_adam();
            let (mut a, mut b) = (start.clone(), start.clone());
            for step in 0..4 {
                a = train(&mut fused, a, step..step + 1, share, &ad);
                b = train(&mut burn, b, step..step + 1, share, &ad);
                assert_eq!(
                    bits(&a),
                    bits(&b),
                    "step {} on {device:?}, shared {share}",
                    step + 1
                );
            }
            assert_ne!(bits(&a), bits(&start), "the steps moved the weights");
        }
    }
}

#[test]
fn either_optimizer_s_state_continues_in_the_other() {
    for device in devices() {
        let ad = device.clone().autodiff();
        let start = LinearConfig::new(IN, OUT).init(&ad);
        // Three steps with one, then two with the other from its record, against five with
        // Burn's alone.
        let mut burn = burn_adam();
        let whole = train(&mut burn, start.clone(), 0..5, true, &ad);
        for fused_first in [true, false] {
            let (mut first, second) = if fused_first {
                (FusedAdam::init(EPS), burn_adam())
            } else {
                (burn_adam(), FusedAdam::init(EPS))
            };
            let model = train(&mut first, start.clone(), 0..3, true, &ad);
            let mut second = second.load_record(first.to_record());
            let model = train(&mut second, model, 3..5, true, &ad);
            assert_eq!(
                bits(&model),
                bits(&whole),
                "fused first: {fused_first}, on {device:?}"
            );
        }
    }
}
