//! The convolution's forward loop (also the input gradient's) with AVX-512: sixteen lanes a
//! register. [`gather`] keeps sixteen outputs of each of `P` planes in one register each,
//! where the AVX2 loop keeps them in two: with eight planes, each input load feeds eight
//! multiply-adds on sixteen lanes, and eight independent sums keep both FMA units busy; a
//! lone plane (the decoder's last convolution) takes four runs of sixteen outputs at once. Each
//! output's sum is the same multiply-adds in the same order as the AVX2 loop's (bias, then
//! every input plane and tap), so the two give the same numbers bit for bit. Only called
//! where [`Isa::best`] found AVX-512F.
//!
//! [`Isa::best`]: crate::simd::Isa::best

use super::Source;
use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Sixteen numbers from `s` (at least sixteen long).
#[inline(always)]
fn load(s: &[f32]) -> __m512 {
    let s: &[f32; 16] = s[..16].try_into().expect("sixteen values");
    // SAFETY: `s` holds sixteen f32s; the load has no alignment requirement.
    unsafe { _mm512_loadu_ps(s.as_ptr()) }
}

/// Stores the sixteen lanes of `v` in `s`, or as many as `s` holds.
#[inline(always)]
fn store16(s: &mut [f32], v: __m512) {
    let mut all = [0.0f32; 16];
    let to: &mut [f32] = if s.len() >= 16 {
        &mut s[..16]
    } else {
        &mut all
    };
    // SAFETY: `to` has room for sixteen f32s; the store has no alignment requirement.
    unsafe { _mm512_storeu_ps(to.as_mut_ptr(), v) };
    if s.len() < 16 {
        let m = s.len();
        s.copy_from_slice(&all[..m]);
    }
}

/// The parent's `gather` for `P` output planes at once (`out` holds `P` planes of `n`): each
/// output's sum over the source's planes and taps, sixteen outputs of each plane in one
/// register, `R` runs of sixteen at a time (the blocks of a single plane take four, so that
/// four sums, not one, wait on the multiply-add's latency), so that each input load feeds
/// `P` multiply-adds.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) fn gather<const P: usize, const R: usize>(
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
    while start + 16 * R <= n {
        runs::<P, R>(out, n, start, src, k, bias);
        start += 16 * R;
    }
    while start < n {
        runs::<P, 1>(out, n, start, src, k, bias);
        start += 16;
    }
}

/// Outputs `start..start + 16 R` of each of the `P` planes (as many as there are).
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
fn runs<const P: usize, const R: usize>(
    out: &mut [f32],
    n: usize,
    start: usize,
    src: Source<'_>,
    k: &[f32],
    bias: &[f32],
) {
    let per_plane = src.count * 9;
    let mut acc = [[_mm512_setzero_ps(); R]; P];
    for (a, &b) in acc.iter_mut().zip(bias) {
        *a = [_mm512_set1_ps(b); R];
    }
    for q in 0..src.count {
        let plane = &src.planes[q * src.len + start..][..2 * src.wp + 2 + 16 * R];
        for tap in 0..9 {
            let at = (tap / 3) * src.wp + tap % 3;
            let s: [__m512; R] = std::array::from_fn(|r| load(&plane[at + 16 * r..]));
            for (i, a) in acc.iter_mut().enumerate() {
                let kv = _mm512_set1_ps(k[i * per_plane + q * 9 + tap]);
                for (a, &s) in a.iter_mut().zip(&s) {
                    *a = _mm512_fmadd_ps(kv, s, *a);
                }
            }
        }
    }
    for (i, a) in acc.iter().enumerate() {
        for (r, &a) in a.iter().enumerate() {
            store16(&mut out[i * n..][start + 16 * r..n], a);
        }
    }
}
