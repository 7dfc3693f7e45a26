//! 3x3 convolutions, stride 1, padding 0 or 1 ('valid' or 'same'), NCHW, with bias: the host
//! loops and Burn's `conv2d` as the reference they are tested against.
//!
//! A 'same' convolution is a 'valid' one on the input framed with zeros, and the input
//! gradient is a 'valid' convolution of the zero-framed output gradient with the flipped,
//! transposed kernel; both run through one loop ([`gather`]) over planes flattened with their
//! row length as stride, which accumulates sixteen outputs in registers over every input plane
//! and tap before it stores them. The weight gradient is nine dot products per pair of
//! channels. Planes are shared out over Burn's thread pool (rayon).

use crate::simd::Isa;
use burn::prelude::*;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod backward;
mod frame;
mod weight_grad;

use backward::GradFrame;
pub use backward::{Grads, OutGrad, backward_fused_with, backward_with, input_grad_with};
use frame::framed_up;
pub(crate) use frame::{Frame, framed, sum_f64};
pub use weight_grad::weight_grad_with;

/// Burn's `conv2d` with the same settings: the reference path.
pub fn reference(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, pad: usize) -> Tensor<4> {
    conv2d(
        x,
        weight,
        Some(bias),
        ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
    )
}

/// Burn's 2x nearest up-sampling (`interpolate` to twice the side, as the conv nets'
/// `Interpolate2d`): each pixel repeated in a 2x2 block. The reference path.
pub fn up2x_reference(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
    )
}

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
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
    /// Padding on every side (0 or 1).
    pub pad: usize,
}

impl Dims {
    /// Output height.
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.pad).saturating_sub(2)
    }

    /// Output width.
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.pad).saturating_sub(2)
    }

    /// Row length of the zero-framed input (and of the 'wide' output rows).
    fn wp(&self) -> usize {
        self.w + 2 * self.pad
    }

    /// Rows of the zero-framed input.
    fn hp(&self) -> usize {
        self.h + 2 * self.pad
    }
}

/// Outputs accumulated in registers at a time.
const LANES: usize = 16;

/// Samples per job of the weight gradient (a job sums every pair of channels over them).
pub(crate) const SAMPLES_PER_JOB: usize = 8;

/// Zeros after every plane, so that a tap's reads of the last lanes stay in the buffer.
fn slack(wp: usize) -> usize {
    2 * wp + 2 + LANES
}

/// The input `x` framed for the loops, planes of `len` (the second value): `d`'s planes as
/// they are, or, if `up`, planes of half the sides (`d.h / 2 x d.w / 2`) up-sampled 2x on the
/// way (nearest), so that the convolution of an up-sampled input never stores it.
fn framed_input(x: &[f32], d: Dims, up: bool) -> (Vec<f32>, usize) {
    let wp = d.wp();
    let len = d.hp() * wp + slack(wp);
    let frame = Frame {
        len,
        stride: wp,
        top: d.pad,
        left: d.pad,
    };
    let framed_x = if up {
        framed_up(x, d.h / 2, d.w / 2, frame)
    } else {
        framed(x, d.h, d.w, frame)
    };
    (framed_x, len)
}

/// Input planes as [`gather`] reads them: `count` planes of `len` numbers (with [`slack`]
/// zeros after the part that is read), rows `wp` long.
#[derive(Clone, Copy)]
struct Source<'a> {
    planes: &'a [f32],
    len: usize,
    count: usize,
    wp: usize,
}

/// `out[f] = bias + sum over the source's planes q and taps of k[p][q][tap] * planes[q][f +
/// ky wp + kx]` for `f` in `0..out.len()`: output plane `p`, `k` `[np][count][9]`. The
/// portable loop; [`avx2::gather`] does the same sums `BLOCK` planes at a time.
fn gather(out: &mut [f32], p: usize, src: Source<'_>, k: &[f32], bias: f32) {
    let n = out.len();
    let mut start = 0;
    while start < n {
        let mut acc = [bias; LANES];
        for q in 0..src.count {
            let plane = &src.planes[q * src.len + start..];
            let kq = &k[(p * src.count + q) * 9..][..9];
            for (tap, &kv) in kq.iter().enumerate() {
                let s: &[f32; LANES] = plane[(tap / 3) * src.wp + tap % 3..][..LANES]
                    .try_into()
                    .expect("LANES values");
                for j in 0..LANES {
                    acc[j] += kv * s[j];
                }
            }
        }
        let m = LANES.min(n - start);
        out[start..start + m].copy_from_slice(&acc[..m]);
        start += LANES;
    }
}

/// Output planes [`avx2::gather`] computes together.
const BLOCK: usize = 4;
/// Output planes [`avx512::gather`] computes together.
const BLOCK512: usize = 8;
/// Planes a buffer of 'wide' output planes holds: the larger block.
const WIDE: usize = BLOCK512;

/// The `np` output planes of one sample (`n` numbers each, `wide` holding `WIDE` of them),
/// computed by the loops of `isa`; `each(p, plane)` then takes each one.
fn gather_all(
    isa: Isa,
    wide: &mut [f32],
    np: usize,
    src: Source<'_>,
    k: &[f32],
    bias: &[f32],
    mut each: impl FnMut(usize, &[f32]),
) {
    let n = wide.len() / WIDE;
    let block = match isa {
        Isa::Portable => 1,
        Isa::Avx2Fma => BLOCK,
        Isa::Avx512 => BLOCK512,
    };
    let mut p0 = 0;
    while p0 < np {
        let p = if np - p0 >= block { block } else { 1 };
        let out = &mut wide[..p * n];
        let bias = &bias[p0..p0 + p];
        match isa {
            // SAFETY: `Isa::Avx512` is only chosen where the CPU has AVX-512F, AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if p == BLOCK512 => unsafe {
                avx512::gather::<BLOCK512, 1>(out, p0, src, k, bias)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::gather::<1, 4>(out, p0, src, k, bias) },
            // SAFETY: `Isa::Avx2Fma` is only chosen where the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if p == BLOCK => unsafe { avx2::gather::<BLOCK>(out, p0, src, k, bias) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { avx2::gather::<1>(out, p0, src, k, bias) },
            _ => gather(out, p0, src, k, bias[0]),
        }
        for i in 0..p {
            each(p0 + i, &wide[i * n..][..n]);
        }
        p0 += p;
    }
}

/// The forward pass: `x` `[b, c, h, w]`, `weight` `[o, c, 3, 3]`, `bias` `[o]`.
pub fn forward(x: &[f32], weight: &[f32], bias: &[f32], d: Dims) -> Vec<f32> {
    forward_with(Isa::best(), x, weight, bias, d)
}

/// [`forward`] with its loops compiled for `isa`.
pub fn forward_with(isa: Isa, x: &[f32], weight: &[f32], bias: &[f32], d: Dims) -> Vec<f32> {
    forward_relu_with(isa, x, weight, bias, d, false, false)
}

/// [`forward_with`], then `max(., 0)` if `relu`, in the same pass (as the output is stored;
/// a negative output and -0 become 0, as in Burn's `relu`). If `up`, `x` holds planes of half
/// the sides `d` gives, and the convolution is of them up-sampled 2x (nearest), which is never
/// stored on its own (`d.h` and `d.w` even).
pub fn forward_relu_with(
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    d: Dims,
    relu: bool,
    up: bool,
) -> Vec<f32> {
    let (oh, ow, wp) = (d.oh(), d.ow(), d.wp());
    if oh * ow == 0 || d.b * d.o == 0 {
        return vec![0.0; d.b * d.o * oh * ow];
    }
    let (framed_x, len) = framed_input(x, d, up);
    // Written once, not zeroed first (see `framed`).
    let total = d.b * d.o * oh * ow;
    let mut out = Vec::with_capacity(total);
    // Each of the pool's tasks makes its buffer for `WIDE` 'wide' planes once.
    out.spare_capacity_mut()[..total]
        .par_chunks_mut(d.o * oh * ow)
        .enumerate()
        .for_each_init(
            || vec![0.0; WIDE * oh * wp],
            |wide, (b, ys)| {
                let planes = &framed_x[b * d.c * len..][..d.c * len];
                let src = Source {
                    planes,
                    len,
                    count: d.c,
                    wp,
                };
                gather_all(isa, wide, d.o, src, weight, bias, |o, plane| {
                    let y = &mut ys[o * oh * ow..][..oh * ow];
                    for (dst, src) in y.chunks_exact_mut(ow).zip(plane.chunks_exact(wp)) {
                        if relu {
                            for (dst, &v) in dst.iter_mut().zip(&src[..ow]) {
                                dst.write(if v > 0.0 { v } else { 0.0 });
                            }
                        } else {
                            dst.write_copy_of_slice(&src[..ow]);
                        }
                    }
                });
            },
        );
    // SAFETY: `gather_all` hands every sample's `d.o` planes to the closure, which writes each
    // plane's `oh` rows of `ow` whole: all `total` numbers, within the capacity.
    unsafe { out.set_len(total) };
    out
}
