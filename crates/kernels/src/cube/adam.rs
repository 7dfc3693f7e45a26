//! Adam's step for four parameters in one launch ([`crate::KernelBackend::adam4`]): one unit
//! per [`PER_UNIT`] numbers of one of the four parameters, the first parameter's numbers
//! first. Burn's Adam's arithmetic, in its order, each number on its own.

use super::launch::{empty, grid};
use crate::adam::{BETA_1, BETA_2};
use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// How many numbers of a parameter one unit steps: the slot's six factors read once for them.
/// Four against one took the VAE's Adam kernels from about 61 to 37 ms a step on lavapipe
/// (2026-12-07).
const PER_UNIT: usize = 4;

/// Numbers `i0 ..` (up to [`PER_UNIT`], those below `n`) of one slot: each one's moments from
/// the gradient (alone on the first step, row 5 of the slot's factors 1; else decayed and
/// fed), then the parameter moved.
#[cube]
#[allow(
    clippy::too_many_arguments,
    reason = "a slot's tensors and where it is"
)]
fn adam_at<F: Float>(
    p: &Tensor<F>,
    g: &Tensor<F>,
    m: &Tensor<F>,
    v: &Tensor<F>,
    po: &mut Tensor<F>,
    mo: &mut Tensor<F>,
    vo: &mut Tensor<F>,
    factors: &Tensor<F>,
    slot: usize,
    i0: usize,
    n: usize,
) {
    let base = slot * 6;
    let (g1, g2, scale) = (factors[base], factors[base + 1], factors[base + 2]);
    let (eps, lr, first) = (factors[base + 3], factors[base + 4], factors[base + 5]);
    #[unroll]
    for e in 0..PER_UNIT {
        let i = i0 + e;
        if i < n {
            let gi = g[i];
            let mut mi = gi * g1;
            let mut vi = (gi * gi) * g2;
            if first == F::new(0.0) {
                mi = m[i] * F::new(BETA_1) + gi * g1;
                vi = v[i] * F::new(BETA_2) + (gi * gi) * g2;
            }
            mo[i] = mi;
            vo[i] = vi;
            let step = (mi * scale) / (vi.sqrt() + eps);
            po[i] = p[i] - step * lr;
        }
    }
}

/// One unit per [`PER_UNIT`] numbers of a slot: the first `ceil(n0 / PER_UNIT)` units slot
/// 0's, the next slot 1's, and so on to slot 3's ([`adam_at`]); slot `k`'s factors are row
/// `r0 + k` (`r0`: the trait's `first`).
#[cube(launch)]
#[allow(
    clippy::too_many_arguments,
    reason = "four parameters' tensors: what makes it one launch for four"
)]
fn adam4_kernel<F: Float>(
    p0: &Tensor<F>,
    g0: &Tensor<F>,
    m0: &Tensor<F>,
    v0: &Tensor<F>,
    po0: &mut Tensor<F>,
    mo0: &mut Tensor<F>,
    vo0: &mut Tensor<F>,
    p1: &Tensor<F>,
    g1: &Tensor<F>,
    m1: &Tensor<F>,
    v1: &Tensor<F>,
    po1: &mut Tensor<F>,
    mo1: &mut Tensor<F>,
    vo1: &mut Tensor<F>,
    p2: &Tensor<F>,
    g2: &Tensor<F>,
    m2: &Tensor<F>,
    v2: &Tensor<F>,
    po2: &mut Tensor<F>,
    mo2: &mut Tensor<F>,
    vo2: &mut Tensor<F>,
    p3: &Tensor<F>,
    g3: &Tensor<F>,
    m3: &Tensor<F>,
    v3: &Tensor<F>,
    po3: &mut Tensor<F>,
    mo3: &mut Tensor<F>,
    vo3: &mut Tensor<F>,
    factors: &Tensor<F>,
    r0: usize,
    n0: usize,
    n1: usize,
    n2: usize,
    n3: usize,
    #[define(F)] _dtype: ElemType,
) {
    let u = ABSOLUTE_POS;
    let (u0, u1, u2) = (
        n0.div_ceil(PER_UNIT),
        n1.div_ceil(PER_UNIT),
        n2.div_ceil(PER_UNIT),
    );
    let u3 = n3.div_ceil(PER_UNIT);
    if u < u0 {
        adam_at(p0, g0, m0, v0, po0, mo0, vo0, factors, r0, u * PER_UNIT, n0);
    } else if u < u0 + u1 {
        let i0 = (u - u0) * PER_UNIT;
        adam_at(p1, g1, m1, v1, po1, mo1, vo1, factors, r0 + 1, i0, n1);
    } else if u < u0 + u1 + u2 {
        let i0 = (u - u0 - u1) * PER_UNIT;
        adam_at(p2, g2, m2, v2, po2, mo2, vo2, factors, r0 + 2, i0, n2);
    } else if u < u0 + u1 + u2 + u3 {
        let i0 = (u - u0 - u1 - u2) * PER_UNIT;
        adam_at(p3, g3, m3, v3, po3, mo3, vo3, factors, r0 + 3, i0, n3);
    }
}

/// The four slots' steps (`[p, g, m, v]` each; the first `count` real, the rest stand-ins,
/// given back as they came; slot `k`'s factors row `first + k` of `factors`): each slot's
/// parameter and moments, contiguous.
pub fn adam4(
    slots: [[CubeTensor; 4]; 4],
    factors: CubeTensor,
    first: usize,
    count: usize,
) -> [[CubeTensor; 3]; 4] {
    let slots = slots.map(|s| {
        s.map(|t| {
            if t.is_contiguous() {
                t
            } else {
                into_contiguous(t)
            }
        })
    });
    let like = slots[0][0].clone();
    let outs: Vec<[CubeTensor; 3]> = slots
        .iter()
        .enumerate()
        .map(|(k, [p, _, m, v])| {
            if k < count {
                [p, p, p].map(|t| empty(t, t.shape()))
            } else {
                [p.clone(), m.clone(), v.clone()]
            }
        })
        .collect();
    let n = |k: usize| {
        if k < count {
            slots[k][0].shape().num_elements()
        } else {
            0
        }
    };
    let (n0, n1, n2, n3) = (n(0), n(1), n(2), n(3));
    let units = [n0, n1, n2, n3]
        .map(|n| n.div_ceil(PER_UNIT))
        .iter()
        .sum::<usize>();
    if units > 0 {
        let (cubes, dim) = grid(&like, units);
        let dtype = dtype_to_storage_type(like.dtype);
        let [
            [p0, g0, m0, v0],
            [p1, g1, m1, v1],
            [p2, g2, m2, v2],
            [p3, g3, m3, v3],
        ] = slots;
        let arg = |t: &CubeTensor| t.clone().into_tensor_arg();
        adam4_kernel::launch(
            &like.client.clone(),
            cubes,
            dim,
            p0.into_tensor_arg(),
            g0.into_tensor_arg(),
            m0.into_tensor_arg(),
            v0.into_tensor_arg(),
            arg(&outs[0][0]),
            arg(&outs[0][1]),
            arg(&outs[0][2]),
            p1.into_tensor_arg(),
            g1.into_tensor_arg(),
            m1.into_tensor_arg(),
            v1.into_tensor_arg(),
            arg(&outs[1][0]),
            arg(&outs[1][1]),
            arg(&outs[1][2]),
            p2.into_tensor_arg(),
            g2.into_tensor_arg(),
            m2.into_tensor_arg(),
            v2.into_tensor_arg(),
            arg(&outs[2][0]),
            arg(&outs[2][1]),
            arg(&outs[2][2]),
            p3.into_tensor_arg(),
            g3.into_tensor_arg(),
            m3.into_tensor_arg(),
            v3.into_tensor_arg(),
            arg(&outs[3][0]),
            arg(&outs[3][1]),
            arg(&outs[3][2]),
            factors.into_tensor_arg(),
            first,
            n0,
            n1,
            n2,
            n3,
            dtype,
        );
    }
    <[[CubeTensor; 3]; 4]>::try_from(outs).unwrap_or_else(|_| unreachable!("four slots"))
}
