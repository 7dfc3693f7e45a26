//! The convolution's backward: the output gradient framed once ([`GradFrame`], with the
//! gradients of a fused ReLU and max-pool applied on the way), the input gradient (the
//! forward loop over the flipped, transposed kernel), and the weight gradient
//! ([`weight_grad_framed`]).

use super::frame::{framed_masked, framed_pool_grad};
use super::weight_grad::weight_grad_framed;
use super::{Dims, Frame, LANES, Source, WIDE, gather_all};
use crate::simd::Isa;
use rayon::prelude::*;

/// The input gradient from the output gradient `grad` `[b, o, oh, ow]`, by the loops of `isa`
/// (alone: [`backward_with`] computes it with the weight gradient).
pub fn input_grad_with(isa: Isa, grad: &[f32], weight: &[f32], d: Dims) -> Vec<f32> {
    input_grad_framed(
        isa,
        &GradFrame::new(OutGrad::Plain(grad), d),
        weight,
        d,
        false,
    )
}

/// The output gradient framed for both backward loops: each plane on rows of `wp` (zeros past
/// `ow`) after `2 wp + 2` zeros, so that the framed input's gradient at `t` is a 'valid' tap of
/// it at `t + ky' wp + kx'` ([`input_grad_framed`]), and from `2 wp + 2` on it is the output
/// gradient on the 'wide' rows the forward loop computes ([`weight_grad_framed`]).
pub(super) struct GradFrame {
    planes: Vec<f32>,
    len: usize,
}

/// The gradient a convolution's backward starts from: of its output, or of what came after it
/// in the same op (ReLU, the 2x2 max-pool), which the framing applies on the way.
#[derive(Clone, Copy)]
pub enum OutGrad<'a> {
    /// The output's gradient.
    Plain(&'a [f32]),
    /// The gradient of the output after ReLU (`out`): it passes where `out` is greater than 0.
    Relu {
        /// The gradient, shaped as the output.
        grad: &'a [f32],
        /// The output after ReLU.
        out: &'a [f32],
    },
    /// The gradient of the 2x2 max-pool (rounding up) of the output `out` (after ReLU if
    /// `relu`): each window's to its first maximum (where greater than 0, if `relu`).
    Pooled {
        /// The gradient, shaped as the pooled output.
        grad: &'a [f32],
        /// The output (after ReLU if `relu`), which the pool read.
        out: &'a [f32],
        /// Whether the output is after ReLU.
        relu: bool,
    },
}

impl GradFrame {
    /// The output gradient `grad` says, framed.
    pub(super) fn new(grad: OutGrad<'_>, d: Dims) -> GradFrame {
        let (oh, ow, wp) = (d.oh(), d.ow(), d.wp());
        let len = (oh + 4) * wp + 4 + LANES;
        let frame = Frame {
            len,
            stride: wp,
            top: 2,
            left: 2,
        };
        let planes = match grad {
            _ if oh * ow == 0 => Vec::new(),
            OutGrad::Plain(grad) => framed_masked(grad, None, oh, ow, frame),
            OutGrad::Relu { grad, out } => framed_masked(grad, Some(out), oh, ow, frame),
            OutGrad::Pooled { grad, out, relu } => framed_pool_grad(grad, out, relu, oh, ow, frame),
        };
        GradFrame { planes, len }
    }

    /// Plane `i` (sample-major) on the forward loop's 'wide' rows: `oh` rows of `wp`.
    pub(super) fn wide(&self, i: usize, d: Dims) -> &[f32] {
        &self.planes[i * self.len + 2 * d.wp() + 2..][..d.oh() * d.wp()]
    }
}

/// The input gradient; if `up`, that of the planes of half the sides whose up-sampling was
/// the input (each 2x2 block's gradient summed, row by row, as the gradient is stored).
pub(super) fn input_grad_framed(
    isa: Isa,
    framed_g: &GradFrame,
    weight: &[f32],
    d: Dims,
    up: bool,
) -> Vec<f32> {
    let (oh, ow, wp, hp) = (d.oh(), d.ow(), d.wp(), d.hp());
    let n = if up { d.h / 2 * (d.w / 2) } else { d.h * d.w };
    if n == 0 || oh * ow == 0 || d.b * d.c == 0 {
        return vec![0.0; d.b * d.c * n];
    }
    let len = framed_g.len;
    // Flipped and transposed: [c][o][8 - tap].
    let mut flipped = vec![0.0; d.c * d.o * 9];
    for o in 0..d.o {
        for c in 0..d.c {
            for tap in 0..9 {
                flipped[(c * d.o + o) * 9 + 8 - tap] = weight[(o * d.c + c) * 9 + tap];
            }
        }
    }
    // Written once, not zeroed first (see `framed`).
    let total = d.b * d.c * n;
    let mut gx = Vec::with_capacity(total);
    let zeros = vec![0.0; d.c];
    gx.spare_capacity_mut()[..total]
        .par_chunks_mut(d.c * n)
        .enumerate()
        .for_each_init(
            || vec![0.0; WIDE * hp * wp],
            |wide, (b, g_in)| {
                let planes = &framed_g.planes[b * d.o * len..][..d.o * len];
                let src = Source {
                    planes,
                    len,
                    count: d.o,
                    wp,
                };
                gather_all(isa, wide, d.c, src, &flipped, &zeros, |c, plane| {
                    // The frame's gradient is dropped: the input is its interior.
                    let g_in = &mut g_in[c * n..][..n];
                    let row_at = |r: usize| &plane[(r + d.pad) * wp + d.pad..][..d.w];
                    if up {
                        for (r, row) in g_in.chunks_exact_mut(d.w / 2).enumerate() {
                            let (top, below) = (row_at(2 * r), row_at(2 * r + 1));
                            for ((dst, t), b) in row
                                .iter_mut()
                                .zip(top.chunks_exact(2))
                                .zip(below.chunks_exact(2))
                            {
                                dst.write(t[0] + t[1] + b[0] + b[1]);
                            }
                        }
                    } else {
                        for (r, row) in g_in.chunks_exact_mut(d.w).enumerate() {
                            row.write_copy_of_slice(row_at(r));
                        }
                    }
                });
            },
        );
    // SAFETY: `gather_all` hands every sample's `d.c` planes to the closure, which writes each
    // plane's `n` numbers (rows of `w`, or of `w / 2` if `up`) whole: all `total` numbers,
    // within the capacity.
    unsafe { gx.set_len(total) };
    gx
}

/// What [`backward_with`] returns: the input gradient (if asked for), and the weight and bias
/// gradients (if asked for).
pub type Grads = (Option<Vec<f32>>, Option<(Vec<f32>, Vec<f32>)>);

/// The input gradient (if `need_x`) and the weight and bias gradients (if `need_w`) of one
/// convolution, by the loops of `isa`: both read the output gradient framed once.
pub fn backward_with(
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    d: Dims,
    need_x: bool,
    need_w: bool,
) -> Grads {
    let need = [need_x, need_w];
    backward_fused_with(isa, x, weight, OutGrad::Plain(grad), d, false, need)
}

/// [`backward_with`] for a convolution fused with what `grad` says came after it (ReLU, the
/// max-pool: their gradients applied as the gradient is framed). If `up`, `x` holds planes of
/// half the sides, up-sampled 2x for the convolution (as in [`forward_relu_with`]), and the
/// input gradient is theirs. `need`: whether the input gradient and whether the weight and
/// bias gradients are wanted.
///
/// [`forward_relu_with`]: super::forward_relu_with
pub fn backward_fused_with(
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    grad: OutGrad<'_>,
    d: Dims,
    up: bool,
    need: [bool; 2],
) -> Grads {
    let framed_g = GradFrame::new(grad, d);
    let gx = need[0].then(|| input_grad_framed(isa, &framed_g, weight, d, up));
    let gw = need[1].then(|| weight_grad_framed(isa, x, &framed_g, d, up));
    (gx, gw)
}
