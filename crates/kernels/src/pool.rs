//! 2x2 max-pooling, stride 2, output size rounded up: the host loops and Burn's layer as the
//! reference they are tested against.

use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use rayon::prelude::*;

/// Burn's `MaxPool2d` with the same settings: the reference path.
pub fn reference(x: Tensor<4>) -> Tensor<4> {
    MaxPool2dConfig::new([2, 2])
        .with_ceil_mode(true)
        .init()
        .forward(x)
}

/// Output side of a side of `n`.
pub(crate) fn half(n: usize) -> usize {
    n.div_ceil(2)
}

/// The first maximum of the window `a b / c d`, row-major (later inputs win only when
/// strictly larger): its position (0 to 3) and value. Selects, not jumps: which input wins is
/// as good as random, and a mispredicted branch per comparison was most of the loops' time.
#[inline(always)]
fn first_max(a: f32, b: f32, c: f32, d: f32) -> (usize, f32) {
    let (mut k, mut v) = (0, a);
    if b > v {
        (k, v) = (1, b);
    }
    if c > v {
        (k, v) = (2, c);
    }
    if d > v {
        (k, v) = (3, d);
    }
    (k, v)
}

/// Calls `each(ox, window's first maximum)` ([`first_max`]) for the windows of one output row:
/// input rows `top` and `below` (the same row again where the plane has no row below: a copy
/// never wins, being no larger), `w` wide; a last window cut short on the right reads its
/// left column twice, likewise.
#[inline(always)]
pub(crate) fn for_each_window(
    top: &[f32],
    below: &[f32],
    w: usize,
    mut each: impl FnMut(usize, (usize, f32)),
) {
    let (top, below) = (&top[..w], &below[..w]);
    for ox in 0..w / 2 {
        let x = 2 * ox;
        each(ox, first_max(top[x], top[x + 1], below[x], below[x + 1]));
    }
    if w % 2 == 1 {
        let x = w - 1;
        each(w / 2, first_max(top[x], top[x], below[x], below[x]));
    }
}

/// Rows `2 oy` and `2 oy + 1` of a plane `h` x `w` (the first again where there is no second).
#[inline(always)]
pub(crate) fn row_pair(plane: &[f32], h: usize, w: usize, oy: usize) -> (&[f32], &[f32]) {
    let y = 2 * oy;
    let below = if y + 1 < h { y + 1 } else { y };
    (&plane[y * w..][..w], &plane[below * w..][..w])
}

/// Forward pass on the host: `x` of `shape` `[b, c, h, w]`.
pub fn forward_host(x: &[f32], shape: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let [b, c, h, w] = shape.try_into().expect("a 4-D input");
    let (oh, ow) = (half(h), half(w));
    let mut out = vec![0.0; b * c * oh * ow];
    if oh * ow > 0 {
        out.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(h * w))
            .for_each(|(o, plane)| {
                for (oy, o) in o.chunks_exact_mut(ow).enumerate() {
                    let (top, below) = row_pair(plane, h, w, oy);
                    for_each_window(top, below, w, |ox, (_, v)| o[ox] = v);
                }
            });
    }
    (out, vec![b, c, oh, ow])
}

/// Backward pass on the host: the input gradient from the input `x` and the output gradient:
/// each window's gradient to its first maximum, 0 to its other inputs (windows do not
/// overlap, so every input is written once).
pub fn backward_host(x: &[f32], shape: &[usize], grad: &[f32]) -> (Vec<f32>, Vec<usize>) {
    let [_, _, h, w] = shape.try_into().expect("a 4-D input");
    let (oh, ow) = (half(h), half(w));
    let mut out = vec![0.0; x.len()];
    if h * w > 0 {
        out.par_chunks_mut(h * w)
            .zip(x.par_chunks(h * w))
            .zip(grad.par_chunks(oh * ow))
            .for_each(|((gx, plane), g)| {
                for (oy, g) in g.chunks_exact(ow).enumerate() {
                    let (top, below) = row_pair(plane, h, w, oy);
                    let y = 2 * oy;
                    let (gx_top, gx_below) = gx[y * w..].split_at_mut(w);
                    let gx_below = if y + 1 < h {
                        &mut gx_below[..w]
                    } else {
                        &mut [][..]
                    };
                    for_each_window(top, below, w, |ox, (k, _)| {
                        let (x, gv) = (2 * ox, g[ox]);
                        let pick = |i: usize| if k == i { gv } else { 0.0 };
                        gx_top[x] = pick(0);
                        if x + 1 < w {
                            gx_top[x + 1] = pick(1);
                        }
                        if !gx_below.is_empty() {
                            gx_below[x] = pick(2);
                            if x + 1 < w {
                                gx_below[x + 1] = pick(3);
                            }
                        }
                    });
                }
            });
    }
    (out, shape.to_vec())
}
