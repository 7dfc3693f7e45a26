//! Planes copied into zero frames, the layout the convolution's loops read (rows of a fixed
//! stride with zeros around and after them), each number written once; and the f64 sums of
//! the bias gradients.

use crate::pool::{for_each_window, half, row_pair};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The sum of `v` in f64, in eight running sums (one running sum is a chain of dependent
/// scalar additions, which was 3% of a conv-ae step in `perf`; eight vectorise). The order is
/// fixed by the code, not the CPU: the same figure everywhere.
pub(crate) fn sum_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&x| f64::from(x)).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(x);
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Where [`framed`] puts planes: in zero planes of `len` with rows of `stride`, at row `top`
/// and column `left`.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) len: usize,
    pub(crate) stride: usize,
    pub(crate) top: usize,
    pub(crate) left: usize,
}

/// `planes` (`rows x cols` each) copied into zero planes laid out as `frame` says.
pub(crate) fn framed(planes: &[f32], rows: usize, cols: usize, frame: Frame) -> Vec<f32> {
    framed_masked(planes, None, rows, cols, frame)
}

/// `planes` (`rows x cols` each) up-sampled 2x (nearest: each number in a 2x2 block) into
/// zero planes laid out as `frame` says, in one pass: the up-sampled planes are never stored
/// on their own.
pub(crate) fn framed_up(planes: &[f32], rows: usize, cols: usize, frame: Frame) -> Vec<f32> {
    let count = planes.len().checked_div(rows * cols).unwrap_or(0);
    let rows_of = |i: usize| &planes[i * rows * cols..][..rows * cols];
    // SAFETY: the closure writes all `2 cols` numbers of each row it is given.
    unsafe {
        framed_rows(count, frame, [2 * rows, 2 * cols], |i, r, dst| {
            let row = &rows_of(i)[r / 2 * cols..][..cols];
            for (pair, &v) in dst.chunks_exact_mut(2).zip(row) {
                pair[0].write(v);
                pair[1].write(v);
            }
        })
    }
}

/// [`framed`], each number kept where `mask` (laid out as `planes`) is greater than 0 and 0
/// elsewhere: ReLU's gradient for the output `mask`, in the same pass. `None`: all kept.
pub(crate) fn framed_masked(
    planes: &[f32],
    mask: Option<&[f32]>,
    rows: usize,
    cols: usize,
    frame: Frame,
) -> Vec<f32> {
    let count = planes.len().checked_div(rows * cols).unwrap_or(0);
    // SAFETY: the closure writes all `cols` numbers of each row it is given.
    unsafe {
        framed_rows(count, frame, [rows, cols], |i, r, dst| {
            let at = (i * rows + r) * cols;
            let row = &planes[at..][..cols];
            match mask {
                Some(m) => {
                    let m = &m[at..][..cols];
                    for ((dst, &v), &y) in dst.iter_mut().zip(row).zip(m) {
                        dst.write(if y > 0.0 { v } else { 0.0 });
                    }
                }
                None => {
                    dst.write_copy_of_slice(row);
                }
            }
        })
    }
}

/// `count` planes laid out as `frame` says, in parallel: in each, zeros around and after
/// `size[0]` rows of `size[1]` numbers that `row(plane, r, dst)` writes. Each number is
/// written once (not zeroed first and then overwritten: these buffers are a large part of a
/// step's memory traffic).
///
/// # Safety
/// `row` must write every number of the `dst` it is given.
unsafe fn framed_rows(
    count: usize,
    frame: Frame,
    [rows, cols]: [usize; 2],
    row: impl Fn(usize, usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(count * frame.len);
    if count == 0 || frame.len == 0 {
        return out;
    }
    out.spare_capacity_mut()[..count * frame.len]
        .par_chunks_mut(frame.len)
        .enumerate()
        .for_each(|(i, dst)| {
            let mut at = 0;
            for r in 0..rows {
                let start = (frame.top + r) * frame.stride + frame.left;
                dst[at..start].fill(MaybeUninit::new(0.0));
                row(i, r, &mut dst[start..start + cols]);
                at = start + cols;
            }
            dst[at..].fill(MaybeUninit::new(0.0));
        });
    // SAFETY: every plane's chunk is written from 0 to its end (zeros, then each row, which the
    // caller's `row` writes whole), and the capacity holds all `count * frame.len` numbers.
    unsafe { out.set_len(count * frame.len) };
    out
}

/// The gradient of planes `out` (`rows x cols` each) whose 2x2 max-pool (rounding up, as
/// [`crate::pool`]) had the gradient `pooled`, laid out as `frame` says, in one pass: each
/// window's gradient goes to its first maximum (where, if `relu`, that maximum is greater
/// than 0: ReLU's gradient for the output `out`), 0 to every other number.
pub(crate) fn framed_pool_grad(
    pooled: &[f32],
    out: &[f32],
    relu: bool,
    rows: usize,
    cols: usize,
    frame: Frame,
) -> Vec<f32> {
    let count = out.len().checked_div(rows * cols).unwrap_or(0);
    let mut buf = Vec::with_capacity(count * frame.len);
    if count == 0 {
        return buf;
    }
    let (ph, pw) = (half(rows), half(cols));
    buf.spare_capacity_mut()[..count * frame.len]
        .par_chunks_mut(frame.len)
        .zip(out.par_chunks(rows * cols))
        .zip(pooled.par_chunks(ph * pw))
        .for_each(|((dst, plane), g)| {
            dst.fill(MaybeUninit::new(0.0));
            for (oy, g) in g.chunks_exact(pw).enumerate() {
                let (top, below) = row_pair(plane, rows, cols, oy);
                for_each_window(top, below, cols, |ox, (k, v)| {
                    let (y, x) = (2 * oy + k / 2, 2 * ox + k % 2);
                    let keep = !relu || v > 0.0;
                    let at = (frame.top + y) * frame.stride + frame.left + x;
                    dst[at].write(if keep { g[ox] } else { 0.0 });
                });
            }
        });
    // SAFETY: every number of every plane was written (zeros first), within the capacity.
    unsafe { buf.set_len(count * frame.len) };
    buf
}
