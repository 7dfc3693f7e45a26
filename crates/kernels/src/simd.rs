//! Which vector instructions the kernels' inner loops are compiled for. The project is built
//! for any x86-64 CPU (SSE2: four lanes, no fused multiply-add), so each hot loop is written
//! once, generic over [`Isa`], and compiled twice: portably, and with AVX2 and FMA enabled
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

/// `a b + c`, fused (one rounding) when `FMA`: inside a function compiled with the `fma`
/// feature it is one instruction; elsewhere a fused multiply-add would be a slow library call.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Defines `$name(isa, args...)` that runs the `#[inline(always)]` generic body
/// `$body::<FMA>(args...)` compiled for `isa`: portably, or in a function with AVX2 and FMA
/// enabled (where `isa` is [`Isa::Avx2Fma`], which [`Isa::best`] only returns on such a CPU).
macro_rules! dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident$(<$(const $c:ident: $ct:ty),*>)?($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $(#[$meta])*
        $vis fn $name$(<$(const $c: $ct),*>)?(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if isa == $crate::simd::Isa::Avx2Fma {
                #[target_feature(enable = "avx2,fma")]
                fn avx2$(<$(const $c: $ct),*>)?($($arg: $ty),*) $(-> $ret)? {
                    $body::<$($($c,)*)? true>($($arg),*)
                }
                // SAFETY: `Isa::Avx2Fma` is only chosen on a CPU that has AVX2 and FMA
                // (`Isa::best` checks both at run time).
                return unsafe { avx2$(::<$($c),*>)?($($arg),*) };
            }
            let _ = isa;
            $body::<$($($c,)*)? false>($($arg),*)
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

    #[test]
    fn a_fused_multiply_add_rounds_once() {
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: the last term is lost when the product is
        // rounded on its own, and kept by a fused multiply-add that subtracts 1 + 2^-11.
        let a = 1.0 + f32::EPSILON * 2048.0;
        let c = -(1.0 + f32::EPSILON * 4096.0);
        assert_eq!(madd::<false>(a, a, c), 0.0);
        assert_eq!(madd::<true>(a, a, c), 2f32.powi(-24));
    }
}
