//! The transposed convolution's gradients: the input gradient as the forward pass's four
//! gathers run the other way over the output gradient's phase planes, the weight gradient as
//! nine dot products per pair of channels between the input and those planes.

#[cfg(target_arch = "x86_64")]
use super::avx2;
use super::{BLOCK, PHASES, Planes, UpDims, blocks, framed_input, gather_phase, phase_kernel};
use crate::conv::Grads;
use crate::conv::SAMPLES_PER_JOB;
use crate::conv::sum_f64;
use crate::simd::Isa;
use rayon::prelude::*;

/// The output gradient's four phase planes per output plane (`[b][phase][o][len]`), each
/// framed with a zero row on top and a zero column on the left: the input gradient's gathers
/// read them at `f + (1 - dy) wp + (1 - dx)`, and from `wp + 1` on a phase plane is on the
/// input's 'wide' rows (the weight gradient's dot products).
struct PhasePlanes {
    planes: Vec<f32>,
}

impl PhasePlanes {
    fn new(grad: &[f32], d: UpDims) -> PhasePlanes {
        let (wp, len, ow) = (d.wp(), d.len(), 2 * d.w);
        let mut planes = vec![0.0; d.b * 4 * d.o * len];
        if planes.is_empty() || d.h * d.w == 0 {
            return PhasePlanes { planes };
        }
        planes
            .par_chunks_mut(4 * d.o * len)
            .zip(grad.par_chunks(d.o * 4 * d.h * d.w))
            .for_each(|(dst, g)| {
                for (o, g) in g.chunks_exact(4 * d.h * d.w).enumerate() {
                    for phase in 0..4 {
                        let (a, bb) = (phase / 2, phase % 2);
                        let plane = &mut dst[(phase * d.o + o) * len..][..len];
                        for m in 0..d.h {
                            let src = &g[(2 * m + a) * ow..][..ow];
                            let row = &mut plane[(m + 1) * wp + 1..][..d.w];
                            for (v, &s) in row.iter_mut().zip(src[bb..].iter().step_by(2)) {
                                *v = s;
                            }
                        }
                    }
                }
            });
        PhasePlanes { planes }
    }

    /// The `o` planes of one sample's phase.
    fn phase(&self, b: usize, phase: usize, d: UpDims) -> &[f32] {
        &self.planes[(b * 4 + phase) * d.o * d.len()..][..d.o * d.len()]
    }
}

/// The input gradient (if `need_x`) and the weight and bias gradients (if `need_w`) of one
/// transposed convolution, from the output gradient `grad` `[b, o, 2h, 2w]`, by the loops of
/// `isa`.
pub fn backward_with(
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    d: UpDims,
    need_x: bool,
    need_w: bool,
) -> Grads {
    let phases = PhasePlanes::new(grad, d);
    let gx = need_x.then(|| input_grad(isa, &phases, weight, d));
    let gw = need_w.then(|| weight_grad(isa, x, grad, &phases, d));
    (gx, gw)
}

fn input_grad(isa: Isa, phases: &PhasePlanes, weight: &[f32], d: UpDims) -> Vec<f32> {
    let hw = d.h * d.w;
    let mut gx = vec![0.0; d.b * d.c * hw];
    if gx.is_empty() || d.o == 0 {
        return gx;
    }
    let (wp, n, len) = (d.wp(), d.wide(), d.len());
    let kernels: Vec<Vec<f32>> = (0..4).map(|p| phase_kernel(weight, d, p, false)).collect();
    let zeros = [0.0; BLOCK];
    gx.par_chunks_mut(d.c * hw).enumerate().for_each_init(
        || vec![0.0; BLOCK * n],
        |wide, (b, gxb)| {
            for (p0, p) in blocks(isa, d.c) {
                let wide = &mut wide[..p * n];
                for (phase, k) in kernels.iter().enumerate() {
                    let src = Planes {
                        planes: phases.phase(b, phase, d),
                        len,
                        count: d.o,
                    };
                    let offset = |dy: usize, dx: usize| (1 - dy) * wp + (1 - dx);
                    gather_phase(isa, wide, p0, src, phase, offset, k, &zeros[..p], phase > 0);
                }
                for (i, plane) in wide.chunks_exact(n).enumerate() {
                    let g = &mut gxb[(p0 + i) * hw..][..hw];
                    for (dst, row) in g.chunks_exact_mut(d.w).zip(plane.chunks_exact(wp)) {
                        dst.copy_from_slice(&row[..d.w]);
                    }
                }
            }
        },
    );
    gx
}

/// The nine sums `sum over f of g[phase][f] src[f + dy wp + dx]`, one per kernel tap (each
/// phase's taps, [`PHASES`]), of the four phase planes `g` of one output channel against the
/// framed input plane `src`, by the loops of `isa`.
fn taps(isa: Isa, g: [&[f32]; 4], src: &[f32], wp: usize) -> [f64; 9] {
    match isa {
        // SAFETY: `Isa::Avx2Fma` and `Isa::Avx512` are only chosen where the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma | Isa::Avx512 => unsafe { avx2::taps(g, src, wp) },
        _ => {
            let mut acc = [0.0f64; 9];
            for (phase, g) in g.iter().enumerate() {
                for &((dy, dx), tap) in PHASES[phase] {
                    let s = &src[dy * wp + dx..][..g.len()];
                    acc[tap] += g
                        .iter()
                        .zip(s)
                        .map(|(&a, &b)| f64::from(a * b))
                        .sum::<f64>();
                }
            }
            acc
        }
    }
}

fn weight_grad(
    isa: Isa,
    x: &[f32],
    grad: &[f32],
    phases: &PhasePlanes,
    d: UpDims,
) -> (Vec<f32>, Vec<f32>) {
    let plane = 4 * d.h * d.w;
    let gb = (0..d.o)
        .into_par_iter()
        .map(|o| {
            (0..d.b)
                .map(|b| sum_f64(&grad[(b * d.o + o) * plane..][..plane]))
                .sum::<f64>() as f32
        })
        .collect();
    let pairs = d.c * d.o;
    if d.h * d.w == 0 || d.b * pairs == 0 {
        return (vec![0.0; pairs * 9], gb);
    }
    let (wp, n, len) = (d.wp(), d.wide(), d.len());
    let xf = framed_input(x, d);
    // A phase plane from `wp + 1` on is on the input's 'wide' rows. One job per run of
    // samples, every pair of channels, as the convolution's weight gradient does.
    let sums: Vec<Vec<f64>> = (0..d.b.div_ceil(SAMPLES_PER_JOB))
        .into_par_iter()
        .map(|job| {
            let mut acc = vec![0.0f64; pairs * 9];
            for b in job * SAMPLES_PER_JOB..((job + 1) * SAMPLES_PER_JOB).min(d.b) {
                for c in 0..d.c {
                    let src = &xf[(b * d.c + c) * len..][..len];
                    for o in 0..d.o {
                        let g = std::array::from_fn(|phase| {
                            &phases.phase(b, phase, d)[o * len + wp + 1..][..n]
                        });
                        let t = taps(isa, g, src, wp);
                        for (a, t) in acc[(c * d.o + o) * 9..][..9].iter_mut().zip(t) {
                            *a += t;
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let gw = (0..pairs * 9)
        .map(|i| sums.iter().map(|s| s[i]).sum::<f64>() as f32)
        .collect();
    (gw, gb)
}
