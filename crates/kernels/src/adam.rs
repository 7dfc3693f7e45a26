//! Adam with its step in one pass over each parameter on the CPU backends.
//!
//! Burn's Adam updates a parameter in thirteen tensor operations (the two moments, the bias
//! corrections, the square root, the division, the learning rate, the subtraction), each a pass
//! over the parameter's memory: for the VAE's 0.65 million weights, 10% of a flex training step
//! went to these passes. [`FusedAdam`] does the same arithmetic, in the same order and the same
//! f32 roundings, in one pass per parameter ([`step_with`]), in place where
//! the backend's buffers are the tensors' own (flex). Its state is Burn's [`AdamState`], so
//! checkpoints written with either optimizer load into the other, and on every other device
//! (and with `--kernels burn`) it is Burn's Adam.

use crate::adam_group::{Entry, MODE, Mode, Slot};
use crate::host::Host;
use crate::ops::Op;
use crate::simd::{Isa, dispatch};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    BackendTensor, DispatchTensor, DispatchTensorKind, Flex, NdArray, TensorMetadata,
};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use rayon::prelude::*;

/// Adam's first-moment decay, as Burn's default.
pub const BETA_1: f32 = 0.9;
/// Adam's second-moment decay, as Burn's default.
pub const BETA_2: f32 = 0.999;

/// Adam (no weight decay, no AMSGrad): one pass per parameter where [`Op::Adam`] is used on
/// the parameter's device, Burn's own step everywhere else.
#[derive(Clone)]
pub struct FusedAdam {
    epsilon: f32,
    reference: Adam,
}

impl FusedAdam {
    /// Adam with Burn's default decays and `epsilon`.
    pub fn new(epsilon: f32) -> Self {
        let reference = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(epsilon)
            .build();
        FusedAdam { epsilon, reference }
    }

    /// The optimizer of a whole module, as Burn's `AdamConfig::init` gives.
    pub fn init(epsilon: f32) -> ModuleOptimizer {
        ModuleOptimizer::from(Self::new(epsilon))
    }
}

/// The scalars of one step, computed as Burn's Adam computes them.
#[derive(Clone, Copy, Debug)]
pub struct Factors {
    /// `1 - beta_1`.
    pub g1: f32,
    /// `1 - beta_2`.
    pub g2: f32,
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)`: both bias corrections on the first moment.
    pub scale: f32,
    /// `epsilon * sqrt(1 - beta_2^t)`.
    pub eps: f32,
    /// The learning rate.
    pub lr: f32,
}

impl Factors {
    /// The factors of step `time` (1 for the first).
    pub fn new(epsilon: f32, time: usize, lr: LearningRate) -> Self {
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let bc2 = (1.0 - BETA_2.powi(t)).sqrt();
        Factors {
            g1: 1.0 - BETA_1,
            g2: 1.0 - BETA_2,
            scale: bc2 / (1.0 - BETA_1.powi(t)),
            eps: epsilon * bc2,
            lr: lr as f32,
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if grouping() {
            return self.grouped_step(lr, tensor, grad, state);
        }
        let momentum = state.as_ref().map(|s| &s.momentum);
        // An AMSGrad state came from another optimizer: Burn's step knows what to do with it.
        if !Op::Adam.used_on(&tensor.device()) || momentum.is_some_and(|m| m.max_moment_2.is_some())
        {
            return self.reference.step(lr, tensor, grad, state);
        }
        let time = momentum.map_or(1, |m| m.time + 1);
        let k = Factors::new(self.epsilon, time, lr);
        let moments = state.map(|s| (s.momentum.moment_1, s.momentum.moment_2));
        let p = tensor.into_dispatch();
        let autodiff = p.autodiff;
        let g = grad.into_dispatch().kind;
        let moments = moments.map(|(m, v)| (m.into_dispatch().kind, v.into_dispatch().kind));
        let kinds = match (p.kind, g) {
            (DispatchTensorKind::Flex(p), DispatchTensorKind::Flex(g)) => {
                host_step::<Flex>(p.float(), g.float(), moments.map(flex_pair), k)
                    .map(|t| DispatchTensorKind::Flex(BackendTensor::Float(t)))
            }
            (DispatchTensorKind::NdArray(p), DispatchTensorKind::NdArray(g)) => {
                host_step::<NdArray>(p.float(), g.float(), moments.map(ndarray_pair), k)
                    .map(|t| DispatchTensorKind::NdArray(BackendTensor::Float(t)))
            }
            _ => unreachable!("Op::Adam is only used on flex and ndarray"),
        };
        let [p, m, v] =
            kinds.map(|kind| Tensor::<D>::from_dispatch(DispatchTensor { kind, autodiff }));
        let momentum = AdaptiveMomentumState::new(time, m, v);
        (p, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

/// Whether this thread is in one of [`crate::adam_group::step_module`]'s passes.
fn grouping() -> bool {
    MODE.with(|m| !matches!(*m.borrow(), Mode::Off))
}

impl FusedAdam {
    /// A step in one of [`crate::adam_group::step_module`]'s passes: the first records the
    /// parameter and changes nothing (or, for a state the grouped op does not take, steps it
    /// here and says so); the second hands out the grouped op's result.
    fn grouped_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let dims = tensor.dims();
        let collecting = MODE.with(|m| matches!(*m.borrow(), Mode::Collect(_)));
        if collecting {
            let momentum = state.as_ref().map(|s| &s.momentum);
            let entry = if momentum.is_some_and(|m| m.max_moment_2.is_some()) {
                None
            } else {
                let time = momentum.map_or(1, |m| m.time + 1);
                let d = |t: &Tensor<D>| t.clone().into_dispatch();
                Some(Entry {
                    p: d(&tensor),
                    g: d(&grad),
                    moments: momentum.map(|m| (d(&m.moment_1), d(&m.moment_2))),
                    device: tensor.device(),
                    factors: Factors::new(self.epsilon, time, lr),
                    time,
                    shape: dims.to_vec(),
                })
            };
            let done = entry.is_none();
            MODE.with(|m| {
                if let Mode::Collect(entries) = &mut *m.borrow_mut() {
                    entries.push(entry);
                }
            });
            return if done {
                self.reference.step(lr, tensor, grad, state)
            } else {
                (tensor, state)
            };
        }
        let slot = MODE.with(|m| match &mut *m.borrow_mut() {
            Mode::Apply(slots) => slots.pop_front(),
            _ => None,
        });
        match slot {
            Some(Slot::Stepped {
                p,
                m,
                v,
                time,
                shape,
            }) if shape == dims => {
                let back = |t| Tensor::<D>::from_dispatch(t);
                let momentum = AdaptiveMomentumState::new(time, back(m), back(v));
                (back(p), Some(AdamState::new(momentum)))
            }
            Some(Slot::Done) => (tensor, state),
            // Not what the first pass recorded here (the passes visit the same parameters in
            // the same order, so this does not happen): a step of its own.
            _ => self.reference.step(lr, tensor, grad, state),
        }
    }
}

/// The two moments as flex tensors.
fn flex_pair(
    (m, v): (DispatchTensorKind, DispatchTensorKind),
) -> (FloatTensor<Flex>, FloatTensor<Flex>) {
    match (m, v) {
        (DispatchTensorKind::Flex(m), DispatchTensorKind::Flex(v)) => (m.float(), v.float()),
        _ => unreachable!("a flex parameter's moments are on flex"),
    }
}

/// The two moments as ndarray tensors.
fn ndarray_pair(
    (m, v): (DispatchTensorKind, DispatchTensorKind),
) -> (FloatTensor<NdArray>, FloatTensor<NdArray>) {
    match (m, v) {
        (DispatchTensorKind::NdArray(m), DispatchTensorKind::NdArray(v)) => (m.float(), v.float()),
        _ => unreachable!("an ndarray parameter's moments are on ndarray"),
    }
}

/// One step of one parameter on a CPU backend: `[parameter, first moment, second moment]`,
/// each shaped as the parameter.
/// Each changes in place where [`Host::values_mut`] lends its buffer (the moments, held by
/// the optimizer alone, on flex), else in a copy (the parameter, which the module's last
/// forward pass may still hold).
fn host_step<B: Host>(
    p: FloatTensor<B>,
    g: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    k: Factors,
) -> [FloatTensor<B>; 3] {
    let gv = B::values(&g);
    let isa = Isa::best();
    let mut p = Values::<B>::of(p);
    match moments {
        Some((m, v)) => {
            let (mut m, mut v) = (Values::<B>::of(m), Values::<B>::of(v));
            step_with(isa, false, p.slice(), m.slice(), v.slice(), &gv, k);
            [p, m, v].map(Values::into_tensor)
        }
        None => {
            let (mut m, mut v) = (vec![0.0; gv.len()], vec![0.0; gv.len()]);
            step_with(isa, true, p.slice(), &mut m, &mut v, &gv, k);
            let (device, shape) = (p.device.clone(), p.shape.clone());
            let new = |x: Vec<f32>| crate::host::write::<B>(x, shape.clone(), &device);
            [p.into_tensor(), new(m), new(v)]
        }
    }
}

/// A tensor's values, to change: in its own buffer, or in a copy.
struct Values<B: Host> {
    device: B::Device,
    shape: Vec<usize>,
    at: At<B>,
}

enum At<B: Host> {
    /// The tensor, whose buffer [`Host::values_mut`] lends.
    Own(FloatTensor<B>),
    /// A copy of its values, in order.
    Copy(Vec<f32>),
}

impl<B: Host> Values<B> {
    fn of(mut t: FloatTensor<B>) -> Self {
        let (device, shape) = (t.device(), t.shape().to_vec());
        let at = if B::values_mut(&mut t).is_some() {
            At::Own(t)
        } else {
            At::Copy(B::values(&t).into_owned())
        };
        Values { device, shape, at }
    }

    fn slice(&mut self) -> &mut [f32] {
        match &mut self.at {
            At::Own(t) => B::values_mut(t).expect("the buffer was lent when checked"),
            At::Copy(v) => v,
        }
    }

    fn into_tensor(self) -> FloatTensor<B> {
        match self.at {
            At::Own(t) => t,
            At::Copy(v) => crate::host::write::<B>(v, self.shape, &self.device),
        }
    }
}

/// Numbers a thread takes at a time: parameters smaller than this are one pass on one thread
/// (waking the pool costs more than their update).
const CHUNK: usize = 1 << 14;

/// One element's step: Burn's Adam's operations in its order, each rounded to f32.
#[inline(always)]
fn update(p: &mut f32, m: f32, v: f32, k: Factors) {
    let step = (m * k.scale) / (v.sqrt() + k.eps);
    *p -= step * k.lr;
}

#[inline(always)]
fn step_body(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: Factors) {
    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        *m = *m * BETA_1 + g * k.g1;
        *v = *v * BETA_2 + (g * g) * k.g2;
        update(p, *m, *v, k);
    }
}

dispatch!(fn step_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: Factors) => step_body);

#[inline(always)]
fn first_body(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: Factors) {
    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        *m = g * k.g1;
        *v = (g * g) * k.g2;
        update(p, *m, *v, k);
    }
}

dispatch!(fn first_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: Factors) => first_body);

/// One step of Adam over `p`, in place, with its moments `m` and `v` (every slice as long as
/// the gradient `g`), by the loops of `isa`: the first step (`first`) writes the moments from
/// `g` alone (Burn's Adam starts them so, not from zeros), a later one decays them and feeds
/// them `g`; then `p` moves.
pub fn step_with(
    isa: Isa,
    first: bool,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    k: Factors,
) {
    type Chunk = fn(Isa, &mut [f32], &mut [f32], &mut [f32], &[f32], Factors);
    let chunk: Chunk = if first { first_chunk } else { step_chunk };
    p.par_chunks_mut(CHUNK)
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, m), v), g)| chunk(isa, p, m, v, g, k));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burn's Adam's step for one number, written out.
    fn by_hand(p: f32, m: Option<f32>, v: Option<f32>, g: f32, t: i32) -> [f32; 3] {
        let (b1, b2, eps, lr) = (0.9f32, 0.999f32, 1e-8f32, 1e-3f32);
        let m = m.map_or(g * (1.0 - b1), |m| m * b1 + g * (1.0 - b1));
        let v = v.map_or((g * g) * (1.0 - b2), |v| v * b2 + (g * g) * (1.0 - b2));
        let bc2 = (1.0 - b2.powi(t)).sqrt();
        let step = (m * (bc2 / (1.0 - b1.powi(t)))) / (v.sqrt() + eps * bc2);
        [p - step * lr, m, v]
    }

    #[test]
    fn both_loops_take_burn_s_steps_for_every_number() {
        // Two threads' shares and a bit: the split and the tail.
        let n = 2 * CHUNK + 5;
        let wave = |s: f32| (0..n).map(move |i| ((i as f32) * s).sin());
        let g: Vec<f32> = wave(0.37).map(|x| x * 1e-2).collect();
        let p0: Vec<f32> = wave(0.11).collect();
        for isa in Isa::available() {
            let (mut p, mut m, mut v) = (p0.clone(), vec![0.0; n], vec![0.0; n]);
            step_with(
                isa,
                true,
                &mut p,
                &mut m,
                &mut v,
                &g,
                Factors::new(1e-8, 1, 1e-3),
            );
            let first: Vec<[f32; 3]> = (0..n)
                .map(|i| by_hand(p0[i], None, None, g[i], 1))
                .collect();
            assert!(
                first
                    .iter()
                    .enumerate()
                    .all(|(i, e)| *e == [p[i], m[i], v[i]]),
                "{isa:?}"
            );
            let g2: Vec<f32> = g.iter().map(|x| -0.5 * x).collect();
            step_with(
                isa,
                false,
                &mut p,
                &mut m,
                &mut v,
                &g2,
                Factors::new(1e-8, 2, 1e-3),
            );
            for (i, e) in first.iter().enumerate() {
                let want = by_hand(e[0], Some(e[1]), Some(e[2]), g2[i], 2);
                assert_eq!(want, [p[i], m[i], v[i]], "{isa:?} at {i}");
            }
        }
    }
}
