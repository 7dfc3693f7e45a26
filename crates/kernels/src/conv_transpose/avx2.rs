//! The transposed convolution's two inner loops written with AVX2 and FMA instructions, as
//! the convolution's are ([`crate::conv`]'s `avx2` module, whose load and store helpers these
//! use). Only called where [`Isa::best`] found both features; the portable loops in the parent
//! module are the same sums.
//!
//! [`Isa::best`]: crate::simd::Isa::best

use super::Planes;
use crate::conv::avx2::{lanes, load, store, total};
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
            let plane = &mut out[i * n..][..n];
            if m == 16 {
                store(&mut plane[start..], a[0]);
                store(&mut plane[start + 8..], a[1]);
            } else {
                let mut v = [0.0f32; 16];
                v[..8].copy_from_slice(&lanes(a[0]));
                v[8..].copy_from_slice(&lanes(a[1]));
                plane[start..].copy_from_slice(&v[..m]);
            }
        }
        start += 16;
    }
}

/// The parent's `dots`: `sum over f of g[f] src[f + offs[t]]` for the `T` offsets at once,
/// eight lanes of partial sums each (each load of `g` feeds `T` multiply-adds).
#[target_feature(enable = "avx2,fma")]
pub(super) fn dots<const T: usize>(g: &[f32], src: &[f32], offs: [usize; T]) -> [f64; T] {
    let full = g.len() / 8 * 8;
    let mut acc = [_mm256_setzero_ps(); T];
    for start in (0..full).step_by(8) {
        let gv = load(&g[start..]);
        for (a, &off) in acc.iter_mut().zip(&offs) {
            *a = _mm256_fmadd_ps(gv, load(&src[off + start..]), *a);
        }
    }
    std::array::from_fn(|t| {
        let tail: f32 = (full..g.len()).map(|f| g[f] * src[offs[t] + f]).sum();
        total(acc[t], tail)
    })
}
