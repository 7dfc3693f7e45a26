//! The convolution's weight and bias gradients: nine dot products per pair of channels
//! between the framed input and the output gradient on the forward loop's 'wide' rows, summed
//! sample by sample.

#[cfg(target_arch = "x86_64")]
use super::avx2;
use super::{BLOCK, Dims, GradFrame, LANES, SAMPLES_PER_JOB, framed_input, sum_f64};
use crate::simd::Isa;
use rayon::prelude::*;

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f64 {
    // Sixteen partial sums: vectorised, and less rounding than one running sum.
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(tail)
}

/// `sum over f of g[f] src[f + ky wp + kx]` for the nine taps (`src` reaches `2 wp + 2` past
/// `g`), by the loops of `isa`.
fn taps(isa: Isa, g: &[f32], src: &[f32], wp: usize) -> [f64; 9] {
    match isa {
        // SAFETY: `Isa::Avx2Fma` and `Isa::Avx512` are only chosen where the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma | Isa::Avx512 => unsafe { avx2::taps(g, src, wp) },
        _ => std::array::from_fn(|tap| dot(g, &src[(tap / 3) * wp + tap % 3..][..g.len()])),
    }
}

/// The weight gradient `[o, c, 3, 3]` and the bias gradient `[o]`, by the loops of `isa`
/// (alone: [`backward_with`] computes them with the input gradient).
pub fn weight_grad_with(isa: Isa, x: &[f32], grad: &[f32], d: Dims) -> (Vec<f32>, Vec<f32>) {
    weight_grad_framed(
        isa,
        x,
        &GradFrame::new(super::OutGrad::Plain(grad), d),
        d,
        false,
    )
}

pub(super) fn weight_grad_framed(
    isa: Isa,
    x: &[f32],
    framed_g: &GradFrame,
    d: Dims,
    up: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (oh, ow, wp) = (d.oh(), d.ow(), d.wp());
    let mut gw = vec![0.0f32; d.o * d.c * 9];
    if oh * ow == 0 || d.b == 0 {
        return (gw, vec![0.0; d.o]);
    }
    let (framed_x, len) = framed_input(x, d, up);
    // The output gradient on 'wide' rows, zeros past ow: the forward loop's columns that do
    // not exist get no weight. One job per input channel and block of output channels
    // (`BLOCK` of them where the loops of `isa` take blocks, else one).
    let block = if isa.has_avx2() && d.o.is_multiple_of(BLOCK) {
        BLOCK
    } else {
        1
    };
    // One job per run of `SAMPLES_PER_JOB` samples, every pair of channels: a sample's planes
    // stay in the cache while all pairs read them (a job per pair over every sample read the
    // whole batch from memory again for each pair); the jobs' sums are added in order, the
    // same figures for any number of threads.
    let pairs = d.o / block * d.c;
    let sums: Vec<Vec<[[f64; 9]; BLOCK]>> = (0..d.b.div_ceil(SAMPLES_PER_JOB))
        .into_par_iter()
        .map(|job| {
            let mut acc = vec![[[0.0f64; 9]; BLOCK]; pairs];
            for b in job * SAMPLES_PER_JOB..((job + 1) * SAMPLES_PER_JOB).min(d.b) {
                for (pair, acc) in acc.iter_mut().enumerate() {
                    let (o0, c) = (pair / d.c * block, pair % d.c);
                    let src = &framed_x[(b * d.c + c) * len..][..len];
                    let g = |i: usize| framed_g.wide(b * d.o + o0 + i, d);
                    let mut add = |i: usize, t: [f64; 9]| {
                        for (a, t) in acc[i].iter_mut().zip(t) {
                            *a += t;
                        }
                    };
                    match isa {
                        // SAFETY: `Isa::Avx2Fma` and `Isa::Avx512` are only chosen where the
                        // CPU has AVX2 and FMA.
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2Fma | Isa::Avx512 if block == BLOCK => {
                            let t = unsafe { avx2::taps4(std::array::from_fn(g), src, wp) };
                            t.into_iter().enumerate().for_each(|(i, t)| add(i, t));
                        }
                        _ => add(0, taps(isa, g(0), src, wp)),
                    }
                }
            }
            acc
        })
        .collect();
    for pair in 0..pairs {
        let (o0, c) = (pair / d.c * block, pair % d.c);
        for i in 0..block {
            let k = &mut gw[((o0 + i) * d.c + c) * 9..][..9];
            for (tap, k) in k.iter_mut().enumerate() {
                *k = sums.iter().map(|s| s[pair][i][tap]).sum::<f64>() as f32;
            }
        }
    }
    // The zeros past each row add nothing to the bias's sums.
    let gb = (0..d.o)
        .into_par_iter()
        .map(|o| {
            (0..d.b)
                .map(|b| sum_f64(framed_g.wide(b * d.o + o, d)))
                .sum::<f64>() as f32
        })
        .collect();
    (gw, gb)
}
