//! Which vector instructions the kernels' inner loops are compiled for. The project is built
//! for any x86-64 CPU (SSE2: four lanes, no fused multiply-add), so each hot loop is written
//! once and compiled for each set: portably, and with AVX2 and FMA enabled (eight lanes, one
//! rounding per multiply-add), which runs where the CPU has them; the convolution's forward
//! loop, the loss and Adam also with AVX-512 (sixteen lanes, the AVX2 build's bits). The
//! choice is made at run time ([`Isa::best`]); tests run every set against the same reference.

/// An instruction set a loop is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Whatever the build targets (SSE2 on x86-64); separate multiply and add.
    Portable,
    /// AVX2 with fused multiply-add (x86-64 CPUs since about 2013).
    Avx2Fma,
    /// AVX-512F on top of AVX2 and FMA (Intel's server CPUs since 2017, AMD's since Zen 4):
    /// sixteen lanes a register. The convolution's forward loop and the loops built through
    /// [`dispatch`] (the loss, Adam) use them; the weight gradients' loops run their AVX2
    /// builds here.
    Avx512,
}

impl Isa {
    /// The best this CPU runs, capped by the environment variable `AE_KERNELS_ISA`:
    /// `portable` (the loops any x86-64 runs: the same figures on every CPU, and the kernels
    /// as they were before the AVX2 loops) or `avx2` (no AVX-512), for comparisons.
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let cap = match std::env::var("AE_KERNELS_ISA").as_deref() {
                Ok("portable") => Isa::Portable,
                Ok("avx2") => Isa::Avx2Fma,
                _ => Isa::Avx512,
            };
            Isa::detected().min(cap)
        })
    }

    /// The best this CPU runs, whatever the environment says.
    fn detected() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            return Isa::Avx2Fma;
        }
        Isa::Portable
    }

    /// Every instruction set this CPU runs, the portable one first.
    pub fn available() -> Vec<Isa> {
        let best = Isa::detected();
        [Isa::Portable, Isa::Avx2Fma, Isa::Avx512]
            .into_iter()
            .filter(|&isa| isa <= best)
            .collect()
    }

    /// Whether the CPU has AVX2 and FMA (every set but the portable one).
    pub fn has_avx2(self) -> bool {
        self != Isa::Portable
    }
}

/// Defines `$name(isa, args...)` that runs the `#[inline(always)]` body `$body(args...)`
/// compiled for `isa`: portably, or inlined into a function with AVX2 and FMA enabled (where
/// `isa` has AVX2 ([`Isa::has_avx2`], which [`Isa::best`] only returns on such a CPU), or
/// with AVX-512F too (`Isa::Avx512`). The bodies spell out their lanes (sixteen running sums,
/// element-wise arithmetic, sums in a fixed order) and Rust never fuses a multiply and an add
/// on its own, so the AVX2 and AVX-512 builds give the same bits; only the portable one, whose
/// code may differ where a body calls `mul_add`, can differ.
macro_rules! dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if isa == $crate::simd::Isa::Avx512 {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                // SAFETY: `Isa::Avx512` is only chosen on a CPU that has AVX-512F, AVX2 and
                // FMA (`Isa::best` checks them at run time).
                return unsafe { avx512($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if isa.has_avx2() {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                // SAFETY: `Isa::Avx2Fma` and `Isa::Avx512` are only chosen on a CPU that has
                // AVX2 and FMA (`Isa::best` checks both at run time).
                return unsafe { avx2($($arg),*) };
            }
            let _ = isa;
            $body($($arg),*)
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portable_set_is_always_there_and_first() {
        let all = Isa::available();
        assert_eq!(all[0], Isa::Portable);
        assert!(all.contains(&Isa::best()));
    }
}
