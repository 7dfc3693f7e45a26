//! 3x3 transposed convolutions of stride 2, padding 1 and output padding 1 (PyTorch's
//! `ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1)`: exactly twice the side),
//! NCHW, with bias: the host loops, and Burn's `conv_transpose2d` as the reference they are
//! tested against.
//!
//! An output's parity picks the taps that reach it. With the input at `(m, n)`, the output at
//! `(2m + a, 2n + b)` sums the inputs `(m + dy, n + dx)`, `dy, dx` in `0..=1`, with the weights
//! of its phase `(a, b)`: 1, 2, 2 and 4 taps, the nine of the kernel, none wasted ([`PHASES`]).
//! So the forward pass is four small gathers over the input framed with a zero row and column,
//! whose outputs interleave; the input gradient is the same four gathers run the other way over
//! the output gradient's four phase planes, summed; the weight gradient is nine dot products
//! per pair of channels between the input and those phase planes. Burn's layer computes its
//! weight gradient as a convolution whose kernel is the whole image, which is what made the
//! wide net slow on the CPU.

use crate::conv::{Frame, framed};
use crate::simd::Isa;
use burn::prelude::*;
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::ConvTransposeOptions;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod backward;

pub use backward::backward_with;

/// Burn's `conv_transpose2d` with the same settings: the reference path.
pub fn reference(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    conv_transpose2d(
        x,
        weight,
        Some(bias),
        ConvTransposeOptions::new([2, 2], [1, 1], [1, 1], [1, 1], 1),
    )
}

/// Sizes of one transposed convolution: `x` `[b, c, h, w]`, `weight` `[c, o, 3, 3]`, the
/// output `[b, o, 2h, 2w]`.
#[derive(Debug, Clone, Copy)]
pub struct UpDims {
    /// Batch.
    pub b: usize,
    /// Input channels.
    pub c: usize,
    /// Output channels.
    pub o: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
}

impl UpDims {
    /// Row length of the framed planes (one zero column).
    fn wp(&self) -> usize {
        self.w + 1
    }

    /// Length of a framed plane: `h + 2` rows and room for the last sixteen lanes' reads.
    fn len(&self) -> usize {
        (self.h + 2) * self.wp() + LANES
    }

    /// Positions of a phase plane on 'wide' rows (`h` rows of `wp`).
    fn wide(&self) -> usize {
        self.h * self.wp()
    }

    /// Numbers in the output.
    fn out_len(&self) -> usize {
        self.b * self.o * 4 * self.h * self.w
    }
}

/// Outputs accumulated in registers at a time.
const LANES: usize = 16;

/// Output planes computed together by [`avx2::gather`].
const BLOCK: usize = 4;

/// The taps of each phase `(a, b)` (in the order `(0,0), (0,1), (1,0), (1,1)`): the input's
/// offset `(dy, dx)` from `(m, n)` and the kernel tap `ky * 3 + kx` it meets. An output row
/// `2m + a` is `2 iy - 1 + ky`: `a = 0` takes `ky = 1` at `iy = m`, `a = 1` takes `ky = 2` at
/// `m` and `ky = 0` at `m + 1`; the same for columns.
pub const PHASES: [&[((usize, usize), usize)]; 4] = [
    &[((0, 0), 4)],
    &[((0, 0), 5), ((0, 1), 3)],
    &[((0, 0), 7), ((1, 0), 1)],
    &[((0, 0), 8), ((0, 1), 6), ((1, 0), 2), ((1, 1), 0)],
];

/// Planes a gather reads: `count` planes of `len` numbers, rows `wp` long.
#[derive(Clone, Copy)]
pub(crate) struct Planes<'a> {
    pub(crate) planes: &'a [f32],
    pub(crate) len: usize,
    pub(crate) count: usize,
}

/// `out[f] = start + sum over the planes q and taps t of k[p][q][t] * planes[q][f + offs[t]]`,
/// `start` being `bias` or (if `add`) `out[f]` itself: output plane `p`, `k` `[np][count][T]`.
/// The portable loop; [`avx2::gather`] does the same sums `BLOCK` planes at a time.
fn gather<const T: usize>(
    out: &mut [f32],
    p: usize,
    src: Planes<'_>,
    offs: [usize; T],
    k: &[f32],
    bias: f32,
    add: bool,
) {
    let n = out.len();
    let mut start = 0;
    while start < n {
        let m = LANES.min(n - start);
        let mut acc = [bias; LANES];
        if add {
            acc[..m].copy_from_slice(&out[start..start + m]);
        }
        for q in 0..src.count {
            let plane = &src.planes[q * src.len + start..];
            let kq = &k[(p * src.count + q) * T..][..T];
            for (&kv, &off) in kq.iter().zip(&offs) {
                let s: &[f32; LANES] = plane[off..][..LANES].try_into().expect("LANES values");
                for j in 0..LANES {
                    acc[j] += kv * s[j];
                }
            }
        }
        out[start..start + m].copy_from_slice(&acc[..m]);
        start += LANES;
    }
}

/// [`gather`] for the output planes `p0..p0 + P` (`out` holds `P` planes), by the loops of
/// `isa`.
#[allow(
    clippy::too_many_arguments,
    reason = "one gather's operands, passed as they are"
)]
fn gather_block<const T: usize>(
    isa: Isa,
    out: &mut [f32],
    p0: usize,
    src: Planes<'_>,
    offs: [usize; T],
    k: &[f32],
    bias: &[f32],
    add: bool,
) {
    let p = bias.len();
    match isa {
        // SAFETY: `Isa::Avx2Fma` and `Isa::Avx512` are only chosen where the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma | Isa::Avx512 if p == BLOCK => unsafe {
            avx2::gather::<BLOCK, T>(out, p0, src, offs, k, bias, add)
        },
        _ => {
            let n = out.len() / p;
            for (i, out) in out.chunks_exact_mut(n).enumerate() {
                gather(out, p0 + i, src, offs, k, bias[i], add);
            }
        }
    }
}

/// One phase's gather, its taps' offsets taken from `offset(dy, dx)`: `T` is its tap count.
#[allow(
    clippy::too_many_arguments,
    reason = "one gather's operands, passed as they are"
)]
fn gather_phase(
    isa: Isa,
    out: &mut [f32],
    p0: usize,
    src: Planes<'_>,
    phase: usize,
    offset: impl Fn(usize, usize) -> usize,
    k: &[f32],
    bias: &[f32],
    add: bool,
) {
    let taps = PHASES[phase];
    let offs = |i: usize| offset(taps[i].0.0, taps[i].0.1);
    match taps.len() {
        1 => gather_block::<1>(isa, out, p0, src, [offs(0)], k, bias, add),
        2 => gather_block::<2>(isa, out, p0, src, [offs(0), offs(1)], k, bias, add),
        _ => {
            let o4 = [offs(0), offs(1), offs(2), offs(3)];
            gather_block::<4>(isa, out, p0, src, o4, k, bias, add)
        }
    }
}

/// A phase's weights as its gathers read them, `[outer][inner][T]` from `weight` `[c][o][9]`:
/// for the forward pass `outer` is `o` (`transposed`), for the input gradient it is `c`.
fn phase_kernel(weight: &[f32], d: UpDims, phase: usize, transposed: bool) -> Vec<f32> {
    let taps = PHASES[phase];
    let mut k = Vec::with_capacity(d.c * d.o * taps.len());
    let (outer, inner) = if transposed { (d.o, d.c) } else { (d.c, d.o) };
    for i in 0..outer {
        for j in 0..inner {
            let (c, o) = if transposed { (j, i) } else { (i, j) };
            k.extend(taps.iter().map(|&(_, tap)| weight[(c * d.o + o) * 9 + tap]));
        }
    }
    k
}

/// The blocks of output planes the gathers take, `(first, count)`: `BLOCK` at a time where
/// the loops of `isa` take blocks, the rest one by one.
fn blocks(isa: Isa, np: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut p0 = 0;
    while p0 < np {
        let p = if isa.has_avx2() && np - p0 >= BLOCK {
            BLOCK
        } else {
            1
        };
        out.push((p0, p));
        p0 += p;
    }
    out
}

/// The input framed for the forward gathers: each plane on rows of `wp`, a zero column and
/// zero rows after it.
fn framed_input(x: &[f32], d: UpDims) -> Vec<f32> {
    let frame = Frame {
        len: d.len(),
        stride: d.wp(),
        top: 0,
        left: 0,
    };
    framed(x, d.h, d.w, frame)
}

/// The forward pass: `x` `[b, c, h, w]`, `weight` `[c, o, 3, 3]`, `bias` `[o]`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: UpDims) -> Vec<f32> {
    forward_with(Isa::best(), x, weight, bias, d)
}

/// [`forward`] with its loops compiled for `isa`.
pub fn forward_with(isa: Isa, x: &[f32], weight: &[f32], bias: &[f32], d: UpDims) -> Vec<f32> {
    let mut out = vec![0.0; d.out_len()];
    if out.is_empty() {
        return out;
    }
    if d.c == 0 {
        // No input channels: every output is its bias.
        for (plane, &b) in out.chunks_exact_mut(4 * d.h * d.w).zip(bias.iter().cycle()) {
            plane.fill(b);
        }
        return out;
    }
    let (wp, n, len) = (d.wp(), d.wide(), d.len());
    let xf = framed_input(x, d);
    let kernels: Vec<Vec<f32>> = (0..4).map(|p| phase_kernel(weight, d, p, true)).collect();
    let (ow, plane) = (2 * d.w, 4 * d.h * d.w);
    out.par_chunks_mut(d.o * plane).enumerate().for_each_init(
        || vec![0.0; BLOCK * n],
        |wide, (b, ys)| {
            let src = Planes {
                planes: &xf[b * d.c * len..][..d.c * len],
                len,
                count: d.c,
            };
            for (phase, k) in kernels.iter().enumerate() {
                let (a, bb) = (phase / 2, phase % 2);
                for (p0, p) in blocks(isa, d.o) {
                    let wide = &mut wide[..p * n];
                    let bias = &bias[p0..p0 + p];
                    gather_phase(
                        isa,
                        wide,
                        p0,
                        src,
                        phase,
                        |dy, dx| dy * wp + dx,
                        k,
                        bias,
                        false,
                    );
                    for (i, phase_plane) in wide.chunks_exact(n).enumerate() {
                        let y = &mut ys[(p0 + i) * plane..][..plane];
                        for (m, row) in phase_plane.chunks_exact(wp).enumerate() {
                            let dst = &mut y[(2 * m + a) * ow..][..ow];
                            for (v, &s) in dst[bb..].iter_mut().step_by(2).zip(&row[..d.w]) {
                                *v = s;
                            }
                        }
                    }
                }
            }
        },
    );
    out
}
