//! The transposed convolution's two inner loops written with AVX2 and FMA instructions, as
//! the convolution's are ([`crate::conv`]'s `avx2` module, whose load and store helpers these
//! use). Only called where [`Isa::best`] found both features; the portable loops in the parent
//! module are the same sums.
//!
//! [`Isa::best`]: crate::simd::Isa::best

use super::{PHASES, Planes};
use crate::conv::avx2::{load, store16, total};
use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_setzero_ps};

/// The parent's `gather` for `P` output planes at once (`out` holds `P` planes of `n`), `T`
/// taps a plane: sixteen outputs of each plane in two registers, so that each input load feeds
/// `2 P` multiply-adds.
#[target_feature(enable = "avx2,fma")]
pub(super) fn gather<const P: usize, const T: usize>(
    out: &mut [f32],
    p0: usize,
    src: Planes<'_>,
    offs: [usize; T],
    k: &[f32],
    bias: &[f32],
    add: bool,
) {
    let n = out.len() / P;
    let per_plane = src.count * T;
    let k = &k[p0 * per_plane..][..P * per_plane];
    let reach = offs.iter().max().copied().unwrap_or(0) + 16;
    let mut start = 0;
    while start < n {
        let m = 16.min(n - start);
        let mut acc: [[__m256; 2]; P] = std::array::from_fn(|i| {
            if add {
                let mut v = [0.0f32; 16];
                v[..m].copy_from_slice(&out[i * n + start..][..m]);
                [load(&v), load(&v[8..])]
            } else {
                [_mm256_set1_ps(bias[i]); 2]
            }
        });
        for q in 0..src.count {
            let plane = &src.planes[q * src.len + start..][..reach];
            for (t, &off) in offs.iter().enumerate() {
                let s = &plane[off..][..16];
                let (lo, hi) = (load(s), load(&s[8..]));
                for (i, a) in acc.iter_mut().enumerate() {
                    let kv = _mm256_set1_ps(k[i * per_plane + q * T + t]);
                    a[0] = _mm256_fmadd_ps(kv, lo, a[0]);
                    a[1] = _mm256_fmadd_ps(kv, hi, a[1]);
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            store16(&mut out[i * n..][start..n], *a);
        }
        start += 16;
    }
}

/// The parent's `taps`: the nine tap sums of one output channel's four phase planes `g`
/// against the framed input plane `src`, eight lanes of partial sums each; each step loads the
/// input at its four offsets once and each phase plane once, for nine multiply-adds.
#[target_feature(enable = "avx2,fma")]
pub(super) fn taps(g: [&[f32]; 4], src: &[f32], wp: usize) -> [f64; 9] {
    let n = g[0].len();
    let g = g.map(|g| &g[..n]);
    let full = n / 8 * 8;
    let at = |dy: usize, dx: usize| dy * wp + dx;
    let mut acc = [_mm256_setzero_ps(); 9];
    for f in (0..full).step_by(8) {
        let x = [
            load(&src[f..]),
            load(&src[f + 1..]),
            load(&src[f + wp..]),
            load(&src[f + wp + 1..]),
        ];
        for (phase, g) in g.iter().enumerate() {
            let gv = load(&g[f..]);
            for &((dy, dx), tap) in PHASES[phase] {
                acc[tap] = _mm256_fmadd_ps(gv, x[dy * 2 + dx], acc[tap]);
            }
        }
    }
    let mut out = [0.0f64; 9];
    for (phase, g) in g.iter().enumerate() {
        for &((dy, dx), tap) in PHASES[phase] {
            let tail: f32 = (full..n).map(|f| g[f] * src[at(dy, dx) + f]).sum();
            out[tap] = total(acc[tap], tail);
        }
    }
    out
}
