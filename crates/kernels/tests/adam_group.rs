//! Adam four parameters to a launch on wgpu (`adam_group::step_module` with `FusedAdam`)
//! against Burn's Adam stepping one parameter at a time: a stack of seven parameters of five
//! shapes (two launches: 4 and 3 parameters), four steps, one layer sitting out the second (so
//! that the launches' factors differ; 4 and 1 parameters, the second launch the two-slot op's)
//! and another the fourth (4 and 2), the parameters equal to float rounding after each; the
//! optimizer state it leaves continues in Burn's Adam; on flex and
//! ndarray `step_module` is the ordinary step, bit for bit. Also the grouped op's CPU
//! definition against Burn's Adam.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).

mod common;

use ae_kernels::adam::FusedAdam;
use ae_kernels::adam_group::{self, step_module};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use common::{assert_close, devices, numbers, values};

const EPS: f32 = 1e-8;
const LR: f64 = 1e-2;

#[derive(Module, Debug)]
struct Stack {
    a: Linear,
    b: Linear,
    c: Linear,
    d: Linear,
}

impl Stack {
    fn new(device: &Device) -> Self {
        let mut d = LinearConfig::new(4, 3).init(device);
        d.bias = None;
        Stack {
            a: LinearConfig::new(9, 40).init(device),
            b: LinearConfig::new(40, 7).init(device),
            c: LinearConfig::new(7, 4).init(device),
            d,
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = burn::tensor::activation::relu(self.a.forward(x));
        self.d.forward(self.c.forward(self.b.forward(h)))
    }

    fn values(&self) -> Vec<f32> {
        let mut all = Vec::new();
        for l in [&self.a, &self.b, &self.c, &self.d] {
            all.extend(values(l.weight.val().inner()));
            if let Some(b) = &l.bias {
                all.extend(values(b.val().inner()));
            }
        }
        all
    }
}

fn grads(model: &Stack, seed: u64, device: &Device) -> GradientsParams {
    let x = Tensor::<1>::from_floats(numbers(6 * 9, seed).as_slice(), device).reshape([6, 9]);
    let mix = Tensor::<1>::from_floats(numbers(6 * 3, seed + 1).as_slice(), device).reshape([6, 3]);
    let loss = (model.forward(x) * mix).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

fn burn_adam() -> ModuleOptimizer {
    AdamConfig::new().with_epsilon(EPS).init()
}

fn all_devices() -> Vec<(Device, bool)> {
    let mut all: Vec<_> = devices().into_iter().map(|d| (d, false)).collect();
    match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) if !list.split(',').any(|b| b.trim() == "wgpu") => {
            eprintln!("NOTE: grouped Adam on wgpu left out: not in AE_TEST_BACKENDS ({list})");
        }
        _ => all.push((Device::wgpu(DeviceKind::DefaultDevice), true)),
    }
    all
}

#[test]
fn grouped_steps_equal_burn_s_adam_one_parameter_at_a_time() {
    for (device, on_wgpu) in all_devices() {
        let ad = device.clone().autodiff();
        assert_eq!(adam_group::used_on(&ad), on_wgpu, "{device:?}");
        let start = Stack::new(&ad);
        let (mut fused, mut burn) = (FusedAdam::init(EPS), burn_adam());
        let (mut a, mut b) = (start.clone(), start.clone());
        for step in 0..4u64 {
            let what = format!("step {} on {device:?}", step + 1);
            let (mut ga, mut gb) = (grads(&a, 10 * step, &ad), grads(&b, 10 * step, &ad));
            if step == 1 {
                // `c` sits out the second step: from the third on its two parameters are a step
                // behind the others, so the launches' rows of factors differ and each launch
                // must read its own.
                for g in [&mut ga, &mut gb] {
                    g.remove::<2>(a.c.weight.id);
                    g.remove::<1>(a.c.bias.as_ref().expect("c has a bias").id);
                }
            }
            if step == 3 {
                // `d` (a weight alone) sits out the fourth: six parameters, 4 and 2.
                for g in [&mut ga, &mut gb] {
                    g.remove::<2>(a.d.weight.id);
                }
            }
            a = step_module(&mut fused, LR.into(), a, ga);
            b = burn.step(LR, b, gb);
            if on_wgpu {
                assert_close(&a.values(), &b.values(), &what);
            } else {
                assert_eq!(a.values(), b.values(), "{what}");
            }
        }
        assert_ne!(a.values(), start.values(), "the steps moved the weights");
        // The state the grouped steps left continues in Burn's Adam: one more step each.
        let mut burn_after = burn_adam().load_record(fused.to_record());
        let (ga, gb) = (grads(&a, 99, &ad), grads(&b, 99, &ad));
        let a = burn_after.step(LR, a, ga);
        let b = burn.step(LR, b, gb);
        assert_close(
            &a.values(),
            &b.values(),
            &format!("after the record, {device:?}"),
        );
    }
}

/// Another optimizer under `step_module`: one ordinary step, not two.
#[test]
fn another_optimizer_steps_once() {
    for (device, _) in all_devices() {
        let ad = device.clone().autodiff();
        let start = Stack::new(&ad);
        let (mut x, mut y) = (burn_adam(), burn_adam());
        let a = step_module(&mut x, LR.into(), start.clone(), grads(&start, 3, &ad));
        let b = y.step(LR, start.clone(), grads(&start, 3, &ad));
        assert_close(&a.values(), &b.values(), &format!("{device:?}"));
    }
}

/// The grouped ops (four slots, then two) themselves on every backend (on flex and ndarray the
/// trait's host loops, which the models do not call) against Adam's step written out: slots on
/// their first step and on later steps, each with its own factors, and empty ones given back
/// as they came.
#[test]
fn the_grouped_op_takes_adam_s_step_on_every_backend() {
    use ae_kernels::KernelBackend;
    use burn::backend::Dispatch;
    let (b1, b2, lr) = (0.9f32, 0.999f32, 1e-2f32);
    // Slot 0 at step 1, slot 1 at step 3, each with its own factors.
    let factors_of = |t: i32| {
        let bc2 = (1.0 - b2.powi(t)).sqrt();
        [1.0 - b1, 1.0 - b2, bc2 / (1.0 - b1.powi(t)), EPS * bc2, lr]
    };
    let n = 37;
    let (p0, g0) = (numbers(n, 1), numbers(n, 2));
    let (p1, g1, m1) = (numbers(n, 3), numbers(n, 4), numbers(n, 5));
    let v1: Vec<f32> = numbers(n, 6).iter().map(|x| x * x).collect();
    let by_hand = |p: &[f32], g: &[f32], mv: Option<(&[f32], &[f32])>, f: [f32; 5]| {
        let mut out = [vec![], vec![], vec![]];
        for i in 0..p.len() {
            let (m, v) = match mv {
                None => (g[i] * f[0], (g[i] * g[i]) * f[1]),
                Some((m, v)) => (m[i] * b1 + g[i] * f[0], v[i] * b2 + (g[i] * g[i]) * f[1]),
            };
            out[0].push(p[i] - ((m * f[2]) / (v.sqrt() + f[3])) * f[4]);
            out[1].push(m);
            out[2].push(v);
        }
        out
    };
    // Slot 2 a later step of the second parameter at another time, slot 3 a first step of the
    // first at another: each slot's own factors row, read where it sits.
    let want = [
        by_hand(&p0, &g0, None, factors_of(1)),
        by_hand(&p1, &g1, Some((&m1, &v1)), factors_of(3)),
        by_hand(&p1, &g1, Some((&m1, &v1)), factors_of(2)),
        by_hand(&p0, &g0, None, factors_of(4)),
    ];
    // Two rows of other launches' factors first (NaN, which any read would spread): this
    // launch's rows start at row 2.
    let mut factors = vec![f32::NAN; 12];
    for (t, first) in [(1, 1.0), (3, 0.0), (2, 0.0), (4, 1.0)] {
        factors.extend(factors_of(t));
        factors.push(first);
    }
    for (device, _) in all_devices() {
        // With two slots taken the other two come back as they went in; with four, all stepped.
        for count in [2, 4] {
            let t = |x: &[f32]| Tensor::<1>::from_floats(x, &device).into_dispatch();
            let out = Dispatch::adam4(
                t(&p0),
                t(&g0),
                t(&p0),
                t(&p0),
                t(&p1),
                t(&g1),
                t(&m1),
                t(&v1),
                t(&p1),
                t(&g1),
                t(&m1),
                t(&v1),
                t(&p0),
                t(&g0),
                t(&g1),
                t(&v1),
                t(&factors),
                2,
                count,
            );
            let got = |x| values(Tensor::<1>::from_dispatch(x));
            let slots = [
                [out.0, out.1, out.2],
                [out.3, out.4, out.5],
                [out.6, out.7, out.8],
                [out.9, out.10, out.11],
            ];
            for (k, (slot, want)) in slots.into_iter().zip(&want).enumerate() {
                let what = |part| format!("count {count}, slot {k}, output {part}, {device:?}");
                if k < count {
                    for (part, (x, w)) in slot.into_iter().zip(want).enumerate() {
                        assert_close(&got(x), w, &what(part));
                    }
                } else {
                    let [p, m, v] = slot.map(got);
                    let given = if k == 2 {
                        [&p1, &m1, &v1]
                    } else {
                        [&p0, &g1, &v1]
                    };
                    assert_eq!([&p, &m, &v], given, "{}", what(0));
                }
            }
        }
        // The two-slot op: slot 1 given back as it went in with one slot taken, stepped with two.
        for count in [1, 2] {
            let t = |x: &[f32]| Tensor::<1>::from_floats(x, &device).into_dispatch();
            let (a0, a1, a2, b0, b1, b2) = Dispatch::adam2(
                t(&p0),
                t(&g0),
                t(&p0),
                t(&p0),
                t(&p1),
                t(&g1),
                t(&m1),
                t(&v1),
                t(&factors),
                2,
                count,
            );
            let got = |x| values(Tensor::<1>::from_dispatch(x));
            let what =
                |k, part| format!("adam2 count {count}, slot {k}, output {part}, {device:?}");
            for (part, (x, w)) in [a0, a1, a2].into_iter().zip(&want[0]).enumerate() {
                assert_close(&got(x), w, &what(0, part));
            }
            let slot1 = [b0, b1, b2].map(got);
            if count == 2 {
                for (part, (x, w)) in slot1.iter().zip(&want[1]).enumerate() {
                    assert_close(x, w, &what(1, part));
                }
            } else {
                assert_eq!(slot1.each_ref(), [&p1, &m1, &v1], "{}", what(1, 0));
            }
        }
    }
}
