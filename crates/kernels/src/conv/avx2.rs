//! The convolution's two inner loops written with AVX2 and FMA instructions: eight lanes a
//! register, one rounding a multiply-add. The compiler's own vectoriser made a poor job of the
//! same loops written over arrays (partial vectors, accumulators stored to the stack each
//! step), so these say which registers hold what. Only called where [`Isa::best`] found both
//! features; the portable loops in the parent module are the same sums.
//!
//! [`Isa::best`]: crate::simd::Isa::best

use super::Source;
use std::arch::x86_64::{
    __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
};

/// Eight numbers from `s` (at least eight long).
#[inline(always)]
pub(crate) fn load(s: &[f32]) -> __m256 {
    let s: &[f32; 8] = s[..8].try_into().expect("eight values");
    // SAFETY: `s` holds eight f32s; the load has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// Stores `v` in the first eight numbers of `s`.
#[inline(always)]
pub(crate) fn store(s: &mut [f32], v: __m256) {
    let s: &mut [f32; 8] = (&mut s[..8]).try_into().expect("eight values");
    // SAFETY: `s` has room for eight f32s; the store has no alignment requirement.
    unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) };
}

/// Stores the sixteen lanes of `a` in `s`, or as many as `s` holds.
#[inline(always)]
pub(crate) fn store16(s: &mut [f32], a: [__m256; 2]) {
    if s.len() >= 16 {
        store(s, a[0]);
        store(&mut s[8..], a[1]);
    } else {
        let mut v = [0.0f32; 16];
        v[..8].copy_from_slice(&lanes(a[0]));
        v[8..].copy_from_slice(&lanes(a[1]));
        let m = s.len();
        s.copy_from_slice(&v[..m]);
    }
}

/// The eight lanes of `v`.
#[inline(always)]
pub(crate) fn lanes(v: __m256) -> [f32; 8] {
    let mut out = [0.0f32; 8];
    // SAFETY: `out` has room for eight f32s; the store has no alignment requirement.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
    out
}

/// The parent's `gather` for `P` output planes at once (`out` holds `P` planes of `n`): each
/// output's sum over the source's planes and taps, sixteen outputs of each plane in two
/// registers, so that each input load feeds `2 P` multiply-adds.
#[target_feature(enable = "avx2,fma")]
pub(super) fn gather<const P: usize>(
    out: &mut [f32],
    p0: usize,
    src: Source<'_>,
    k: &[f32],
    bias: &[f32],
) {
    let n = out.len() / P;
    let per_plane = src.count * 9;
    let k = &k[p0 * per_plane..][..P * per_plane];
    let mut start = 0;
    while start < n {
        let mut acc = [[_mm256_setzero_ps(); 2]; P];
        for (a, &b) in acc.iter_mut().zip(bias) {
            *a = [_mm256_set1_ps(b); 2];
        }
        for q in 0..src.count {
            let plane = &src.planes[q * src.len + start..][..2 * src.wp + 2 + 16];
            for tap in 0..9 {
                let s = &plane[(tap / 3) * src.wp + tap % 3..][..16];
                let (lo, hi) = (load(s), load(&s[8..]));
                for (i, a) in acc.iter_mut().enumerate() {
                    let kv = _mm256_set1_ps(k[i * per_plane + q * 9 + tap]);
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

/// The sum of `v`'s lanes, in f64, plus `tail`.
#[inline(always)]
pub(crate) fn total(v: __m256, tail: f32) -> f64 {
    lanes(v).iter().map(|&x| f64::from(x)).sum::<f64>() + f64::from(tail)
}

/// The parent's `taps`: `sum over f of g[f] src[f + ky wp + kx]` for the nine taps at once,
/// eight lanes of partial sums each (each load of `g` feeds nine multiply-adds).
#[target_feature(enable = "avx2,fma")]
pub(super) fn taps(g: &[f32], src: &[f32], wp: usize) -> [f64; 9] {
    let full = g.len() / 8 * 8;
    let mut acc = [_mm256_setzero_ps(); 9];
    for start in (0..full).step_by(8) {
        let gv = load(&g[start..]);
        for (tap, a) in acc.iter_mut().enumerate() {
            let s = load(&src[(tap / 3) * wp + tap % 3 + start..]);
            *a = _mm256_fmadd_ps(gv, s, *a);
        }
    }
    std::array::from_fn(|tap| {
        let at = (tap / 3) * wp + tap % 3;
        let tail: f32 = (full..g.len()).map(|f| g[f] * src[at + f]).sum();
        total(acc[tap], tail)
    })
}

/// [`taps`] for four output gradients `g` against the same input plane: one row of taps
/// (`ky`) at a time, twelve sums in registers, so that seven loads feed twelve multiply-adds
/// (nine-tap sums of one gradient need ten loads for nine).
#[target_feature(enable = "avx2,fma")]
pub(super) fn taps4(g: [&[f32]; 4], src: &[f32], wp: usize) -> [[f64; 9]; 4] {
    let n = g[0].len();
    let g = g.map(|g| &g[..n]);
    let full = n / 8 * 8;
    let mut out = [[0.0f64; 9]; 4];
    for ky in 0..3 {
        let row = &src[ky * wp..][..n + 2];
        let mut acc = [[_mm256_setzero_ps(); 3]; 4];
        for start in (0..full).step_by(8) {
            let s = [
                load(&row[start..]),
                load(&row[start + 1..]),
                load(&row[start + 2..]),
            ];
            for (a, g) in acc.iter_mut().zip(g) {
                let gv = load(&g[start..]);
                for (a, s) in a.iter_mut().zip(s) {
                    *a = _mm256_fmadd_ps(gv, s, *a);
                }
            }
        }
        for ((out, a), g) in out.iter_mut().zip(acc).zip(g) {
            for (kx, a) in a.into_iter().enumerate() {
                let tail: f32 = (full..n).map(|f| g[f] * row[f + kx]).sum();
                out[ky * 3 + kx] = total(a, tail);
            }
        }
    }
    out
}
