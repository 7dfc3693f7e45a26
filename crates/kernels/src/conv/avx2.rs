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
fn load(s: &[f32]) -> __m256 {
    let s: &[f32; 8] = s[..8].try_into().expect("eight values");
    // SAFETY: `s` holds eight f32s; the load has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// The eight lanes of `v`.
#[inline(always)]
fn lanes(v: __m256) -> [f32; 8] {
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
    let mut start = 0;
    while start < n {
        let mut acc: [[__m256; 2]; P] = std::array::from_fn(|i| [_mm256_set1_ps(bias[i]); 2]);
        for q in 0..src.count {
            let plane = &src.planes[q * src.len + start..];
            let kq: [&[f32]; P] =
                std::array::from_fn(|i| &k[((p0 + i) * src.count + q) * 9..][..9]);
            for tap in 0..9 {
                let s = &plane[(tap / 3) * src.wp + tap % 3..][..16];
                let (lo, hi) = (load(s), load(&s[8..]));
                for (a, kq) in acc.iter_mut().zip(kq) {
                    let kv = _mm256_set1_ps(kq[tap]);
                    a[0] = _mm256_fmadd_ps(kv, lo, a[0]);
                    a[1] = _mm256_fmadd_ps(kv, hi, a[1]);
                }
            }
        }
        let m = 16.min(n - start);
        for (i, a) in acc.iter().enumerate() {
            let mut v = [0.0f32; 16];
            v[..8].copy_from_slice(&lanes(a[0]));
            v[8..].copy_from_slice(&lanes(a[1]));
            out[i * n + start..][..m].copy_from_slice(&v[..m]);
        }
        start += 16;
    }
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
        let v = lanes(acc[tap]);
        v.iter().map(|&x| f64::from(x)).sum::<f64>() + f64::from(tail)
    })
}
