//! Adam over many parameters in few launches on wgpu: four parameters per launch
//! ([`crate::KernelBackend::adam4`]; two or one left over in a launch of two,
//! [`crate::KernelBackend::adam2`]), where Burn's fused Adam takes about one and a half.
//!
//! Burn 0.22's `ModuleOptimizer` steps one parameter at a time and keeps the optimizer's
//! state, which the `Learner` checkpoints. So [`step_module`] runs it twice: the first pass
//! ([`Mode::Collect`]) records each parameter, gradient and moments as [`FusedAdam`] is asked
//! to step them, and changes nothing; then the grouped op steps them all, its inputs and
//! outputs explicit (Burn's fusion orders operations by their data, not by when they were
//! queued); the second pass ([`Mode::Apply`]) hands each parameter its result and its new
//! state, in the same order. The state stays Burn's `AdamState`, in the optimizer, as with
//! one step per parameter.
//!
//! [`FusedAdam`]: crate::adam::FusedAdam

use crate::KernelBackend;
use crate::adam::{Factors, step_with};
use crate::host::{self, Host};
use crate::ops::Op;
use crate::simd::Isa;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::backend::{Dispatch, DispatchTensor};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::cell::RefCell;
use std::collections::VecDeque;

/// Parameters per launch.
pub const GROUP: usize = 4;

/// One parameter as the first pass found it, in its own shape: the op reads and writes each
/// tensor as one run of numbers, so no reshape (each one an operation for Burn's fusion server
/// to handle, and a tensor to drop, a step) is needed either way.
pub(crate) struct Entry {
    pub p: DispatchTensor,
    pub g: DispatchTensor,
    /// The moments, `None` on the parameter's first step.
    pub moments: Option<(DispatchTensor, DispatchTensor)>,
    pub device: Device,
    pub factors: Factors,
    pub time: usize,
    pub shape: Vec<usize>,
}

/// What the second pass hands a parameter.
#[allow(
    clippy::large_enum_variant,
    reason = "a few per training step, each moved once into its queue"
)]
pub(crate) enum Slot {
    /// Stepped by the first pass itself (a state the grouped op does not take): keep it.
    Done,
    /// The parameter and its moments after the step (in the parameter's shape), and the
    /// step's count.
    Stepped {
        p: DispatchTensor,
        m: DispatchTensor,
        v: DispatchTensor,
        time: usize,
        shape: Vec<usize>,
    },
}

/// What [`crate::adam::FusedAdam`] does with a step on this thread.
pub(crate) enum Mode {
    /// Steps as usual.
    Off,
    /// Records, in order.
    Collect(Vec<Option<Entry>>),
    /// Hands out results, in order.
    Apply(VecDeque<Slot>),
}

thread_local! {
    pub(crate) static MODE: RefCell<Mode> = const { RefCell::new(Mode::Off) };
}

/// Puts the mode back to [`Mode::Off`] however the pass ends.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        MODE.with(|m| *m.borrow_mut() = Mode::Off);
    }
}

/// Whether [`step_module`] groups the steps on `device`: wgpu with our kernels.
pub fn used_on(device: &Device) -> bool {
    Op::AdamGroup.used_on(device)
}

/// `optim.step(lr, module, grads)`, with the Adam steps of [`crate::adam::FusedAdam`] four
/// parameters to a launch where [`used_on`] the module's device; the same step as one
/// parameter at a time (Burn's Adam's arithmetic), and the same state afterwards.
pub fn step_module<M: Module>(
    optim: &mut ModuleOptimizer,
    lr: ModuleLearningRate,
    module: M,
    grads: GradientsParams,
) -> M {
    let grouped = module.devices().first().is_some_and(used_on);
    if !grouped {
        return optim.step(lr, module, grads);
    }
    let again = copy_grads(&module, &grads);
    let _reset = Reset;
    MODE.with(|m| *m.borrow_mut() = Mode::Collect(Vec::new()));
    let module = optim.step(lr.clone(), module, grads);
    let entries = MODE.with(
        |m| match std::mem::replace(&mut *m.borrow_mut(), Mode::Off) {
            Mode::Collect(entries) => entries,
            _ => Vec::new(),
        },
    );
    // Another optimizer, or nothing to step: the first pass was the step.
    if entries.iter().all(Option::is_none) {
        return module;
    }
    let slots = run(entries);
    MODE.with(|m| *m.borrow_mut() = Mode::Apply(slots));
    optim.step(lr, module, again)
}

/// A second set of `grads`' gradients of `module`'s parameters (the first pass takes them).
fn copy_grads<M: Module>(module: &M, grads: &GradientsParams) -> GradientsParams {
    struct Copy<'a> {
        from: &'a GradientsParams,
        to: GradientsParams,
    }
    impl ModuleVisitor for Copy<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.from.get::<D>(param.id) {
                self.to.register::<D>(param.id, g);
            }
        }
    }
    let mut copy = Copy {
        from: grads,
        to: GradientsParams::new(),
    };
    module.visit(&mut copy);
    copy.to
}

/// Every recorded step, four to a launch, in order; the factors of all of them uploaded once,
/// a row each, launch `l` reading from row `4 l`.
fn run(entries: Vec<Option<Entry>>) -> VecDeque<Slot> {
    let mut slots: Vec<Option<Slot>> = entries
        .iter()
        .map(|e| e.is_none().then_some(Slot::Done))
        .collect();
    let todo: Vec<(usize, Entry)> = entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| e.map(|e| (i, e)))
        .collect();
    let Some((_, head)) = todo.first() else {
        return slots.into_iter().map(|s| s.unwrap_or(Slot::Done)).collect();
    };
    let rows: Vec<f32> = todo
        .iter()
        .flat_map(|(_, e)| {
            let f = e.factors;
            let first = if e.moments.is_none() { 1.0 } else { 0.0 };
            [f.g1, f.g2, f.scale, f.eps, f.lr, first]
        })
        .collect();
    let factors = Tensor::<1>::from_floats(rows.as_slice(), &head.device).into_dispatch();
    let mut todo = todo.into_iter().peekable();
    let mut groups = Vec::new();
    while todo.peek().is_some() {
        groups.push(todo.by_ref().take(GROUP).collect::<Vec<(usize, Entry)>>());
    }
    // A copy for each launch but the last, which takes the factors themselves: a tensor that
    // an op consumes needs no drop of its own in Burn's fusion stream, one left over does.
    let launches = groups.len();
    let mut first = 0;
    for (group, factors) in groups
        .into_iter()
        .zip(std::iter::repeat_n(factors, launches))
    {
        let count = group.len();
        // What fills the slots the op does not read (a first step's moments, the slots past
        // `count`): a tensor that is there already, so that no launch makes one.
        let first_p = group[0].1.p.clone();
        let stand_in = || first_p.clone();
        // Two slots where two suffice: the four-slot op's other two would give back six
        // tensors to drop.
        let width = if count <= 2 { 2 } else { GROUP };
        let mut args = Vec::with_capacity(width * 4);
        for k in 0..width {
            match group.get(k) {
                Some((_, e)) => {
                    let (m, v) = e
                        .moments
                        .clone()
                        .unwrap_or_else(|| (stand_in(), stand_in()));
                    args.extend([e.p.clone(), e.g.clone(), m, v]);
                }
                None => args.extend([stand_in(), stand_in(), stand_in(), stand_in()]),
            }
        }
        let out = launch(args, factors, first, count);
        first += count;
        for ((i, e), [p, m, v]) in group.into_iter().zip(out) {
            slots[i] = Some(Slot::Stepped {
                p,
                m,
                v,
                time: e.time,
                shape: e.shape,
            });
        }
    }
    slots.into_iter().map(|s| s.unwrap_or(Slot::Done)).collect()
}

/// One launch: [`crate::KernelBackend::adam2`] for 8 tensors in `args` (`[p, g, m, v]` a slot),
/// else [`crate::KernelBackend::adam4`] for 16; each slot's `[p, m, v]` after the step.
fn launch(
    args: Vec<DispatchTensor>,
    factors: DispatchTensor,
    first: usize,
    count: usize,
) -> Vec<[DispatchTensor; 3]> {
    let args = match <[DispatchTensor; 8]>::try_from(args) {
        Ok([p0, g0, m0, v0, p1, g1, m1, v1]) => {
            let (a0, a1, a2, b0, b1, b2) =
                Dispatch::adam2(p0, g0, m0, v0, p1, g1, m1, v1, factors, first, count);
            return vec![[a0, a1, a2], [b0, b1, b2]];
        }
        Err(args) => args,
    };
    let args =
        <[DispatchTensor; 16]>::try_from(args).unwrap_or_else(|_| unreachable!("4 per slot"));
    let [
        [p0, g0, m0, v0],
        [p1, g1, m1, v1],
        [p2, g2, m2, v2],
        [p3, g3, m3, v3],
    ] = into_slots(args);
    let out = Dispatch::adam4(
        p0, g0, m0, v0, p1, g1, m1, v1, p2, g2, m2, v2, p3, g3, m3, v3, factors, first, count,
    );
    from_results(out).into()
}

/// [`crate::KernelBackend::adam4`]'s sixteen tensors, `[p, g, m, v]` a slot, as its slots.
pub(crate) fn into_slots<T>(flat: [T; 16]) -> [[T; 4]; 4] {
    let mut flat = flat.into_iter();
    std::array::from_fn(|_| std::array::from_fn(|_| flat.next().expect("16 = 4 slots of 4")))
}

/// Each slot's parameter and moments as [`crate::KernelBackend::adam4`] returns them.
pub(crate) type Results<T> = (T, T, T, T, T, T, T, T, T, T, T, T);

/// The four slots' results, `[p, m, v]` each, in the op's order.
pub(crate) fn into_results<T>(slots: [[T; 3]; 4]) -> Results<T> {
    let [[a0, a1, a2], [b0, b1, b2], [c0, c1, c2], [d0, d1, d2]] = slots;
    (a0, a1, a2, b0, b1, b2, c0, c1, c2, d0, d1, d2)
}

/// [`crate::KernelBackend::adam2`]'s two slots as four for the four-slot definitions, the
/// last two stand-ins (slot 0's parameter), which those give back unread.
pub(crate) fn two_as_four<T: Clone>(two: [[T; 4]; 2]) -> [[T; 4]; 4] {
    let s = two[0][0].clone();
    let [a, b] = two;
    [
        a,
        b,
        [s.clone(), s.clone(), s.clone(), s.clone()],
        [s.clone(), s.clone(), s.clone(), s],
    ]
}

/// Each slot's parameter and moments as [`crate::KernelBackend::adam2`] returns them.
pub(crate) type Results2<T> = (T, T, T, T, T, T);

/// The first two of four slots' results, `[p, m, v]` each, as
/// [`crate::KernelBackend::adam2`] returns them.
pub(crate) fn first_two<T>(slots: [[T; 3]; 4]) -> Results2<T> {
    let [[a0, a1, a2], [b0, b1, b2], _, _] = slots;
    (a0, a1, a2, b0, b1, b2)
}

/// The op's results back as four slots, `[p, m, v]` each: [`into_results`] undone.
fn from_results<T>(results: Results<T>) -> [[T; 3]; 4] {
    let (a0, a1, a2, b0, b1, b2, c0, c1, c2, d0, d1, d2) = results;
    [[a0, a1, a2], [b0, b1, b2], [c0, c1, c2], [d0, d1, d2]]
}

/// [`crate::KernelBackend::adam4`] on a CPU backend: each slot's step by the one-pass loops
/// of [`crate::adam::FusedAdam`] ([`step_with`], Burn's Adam's arithmetic in its order), into
/// new tensors. The models step there one parameter at a time; this completes the trait.
pub(crate) fn on_the_host<B: Backend + Host>(
    slots: [[FloatTensor<B>; 4]; 4],
    factors: FloatTensor<B>,
    first: usize,
    count: usize,
) -> [[FloatTensor<B>; 3]; 4] {
    let f = B::values(&factors).into_owned();
    let mut k = 0;
    slots.map(|[p, g, m, v]| {
        let slot = k;
        k += 1;
        if slot >= count {
            return [p, m, v];
        }
        let at = (first + slot) * 6;
        let row = &f[at..at + 6];
        let factors = Factors {
            g1: row[0],
            g2: row[1],
            scale: row[2],
            eps: row[3],
            lr: row[4],
        };
        let first = row[5] != 0.0;
        let gv = B::values(&g);
        let mut pv = B::values(&p).into_owned();
        let (mut mv, mut vv) = if first {
            (vec![0.0; gv.len()], vec![0.0; gv.len()])
        } else {
            (B::values(&m).into_owned(), B::values(&v).into_owned())
        };
        step_with(Isa::best(), first, &mut pv, &mut mv, &mut vv, &gv, factors);
        let (device, shape) = (p.device(), p.shape().to_vec());
        [pv, mv, vv].map(|x| host::write::<B>(x, shape.clone(), &device))
    })
}
