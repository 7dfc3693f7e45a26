//! Which vector instructions the kernels' inner loops are compiled for. The project is built
//! for any x86-64 CPU (SSE2: four lanes, no fused multiply-add), so each hot loop is written
//! once and compiled twice: portably, and with AVX2 and FMA enabled
//! (eight lanes, one rounding per multiply-add), which runs where the CPU has them. The choice
//! is made at run time ([`Isa::best`]); tests run both against the same reference.

/// An instruction set a loop is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Whatever the build targets (SSE2 on x86-64); separate multiply and add.
    Portable,
    /// AVX2 with fused multiply-add (x86-64 CPUs since about 2013).
    Avx2Fma,
}

impl Isa {
    /// The best this CPU runs, unless the environment variable `AE_KERNELS_ISA` is
    /// `portable` (the loops any x86-64 runs: the same figures on every CPU, and the kernels
    /// as they were before the AVX2 loops, for comparisons).
    pub fn best() -> Isa {
        static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *FORCED.get_or_init(|| std::env::var("AE_KERNELS_ISA").is_ok_and(|v| v == "portable")) {
            return Isa::Portable;
        }
        Isa::detected()
    }

    /// The best this CPU runs, whatever the environment says.
    fn detected() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2Fma;
        }
        Isa::Portable
    }

    /// Every instruction set this CPU runs, the portable one first.
    pub fn available() -> Vec<Isa> {
        let mut all = vec![Isa::Portable];
        if Isa::detected() == Isa::Avx2Fma {
            all.push(Isa::Avx2Fma);
        }
        all
    }
}

/// Defines `$name(isa, args...)` that runs the `#[inline(always)]` body `$body(args...)`
/// compiled for `isa`: portably, or inlined into a function with AVX2 and FMA enabled (where
/// `isa` is [`Isa::Avx2Fma`], which [`Isa::best`] only returns on such a CPU).
macro_rules! dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if isa == $crate::simd::Isa::Avx2Fma {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                // SAFETY: `Isa::Avx2Fma` is only chosen on a CPU that has AVX2 and FMA
                // (`Isa::best` checks both at run time).
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
