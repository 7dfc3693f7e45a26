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
fn half(n: usize) -> usize {
    n.div_ceil(2)
}

/// The offset (in a plane of width `w`) of the first maximum of the window whose top-left
/// corner is `(y, x)`: rows `top` and, if there is one, `below`.
#[inline(always)]
fn first_max(top: &[f32], below: Option<&[f32]>, w: usize, y: usize, x: usize) -> usize {
    let mut best = y * w + x;
    let mut value = top[x];
    if x + 1 < w && top[x + 1] > value {
        (best, value) = (best + 1, top[x + 1]);
    }
    if let Some(row) = below {
        if row[x] > value {
            (best, value) = ((y + 1) * w + x, row[x]);
        }
        if x + 1 < w && row[x + 1] > value {
            best = (y + 1) * w + x + 1;
        }
    }
    best
}

/// Calls `each(output index, input offset of its first maximum)` for every output of a plane.
#[inline(always)]
fn for_each_max(plane: &[f32], h: usize, w: usize, mut each: impl FnMut(usize, usize)) {
    let ow = half(w);
    for oy in 0..half(h) {
        let y = 2 * oy;
        let top = &plane[y * w..][..w];
        let below = (y + 1 < h).then(|| &plane[(y + 1) * w..][..w]);
        for ox in 0..ow {
            each(oy * ow + ox, first_max(top, below, w, y, 2 * ox));
        }
    }
}

/// Forward pass on the host: `x` of `shape` `[b, c, h, w]`.
pub fn forward_host(x: &[f32], shape: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let [b, c, h, w] = shape.try_into().expect("a 4-D input");
    let (oh, ow) = (half(h), half(w));
    let mut out = vec![0.0; b * c * oh * ow];
    if oh * ow > 0 {
        out.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(h * w))
            .for_each(|(o, plane)| for_each_max(plane, h, w, |k, i| o[k] = plane[i]));
    }
    (out, vec![b, c, oh, ow])
}

/// Backward pass on the host: the input gradient from the input `x` and the output gradient.
pub fn backward_host(x: &[f32], shape: &[usize], grad: &[f32]) -> (Vec<f32>, Vec<usize>) {
    let [_, _, h, w] = shape.try_into().expect("a 4-D input");
    let (oh, ow) = (half(h), half(w));
    let mut out = vec![0.0; x.len()];
    if h * w > 0 {
        out.par_chunks_mut(h * w)
            .zip(x.par_chunks(h * w))
            .zip(grad.par_chunks(oh * ow))
            .for_each(|((gx, plane), g)| for_each_max(plane, h, w, |k, i| gx[i] += g[k]));
    }
    (out, shape.to_vec())
}
