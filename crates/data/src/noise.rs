//! Corrupting inputs for denoising autoencoders: the model sees the corrupted copy and is
//! asked for the clean one (`L(x, D(E(x~)))` in the lecture notes).

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How inputs are corrupted. Values are pixels in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Noise {
    /// Adds `std * N(0, 1)` to every pixel, then clips to [0, 1] (the Keras blog's recipe).
    Gaussian {
        /// Standard deviation of the added noise, in pixel units (1 = full white).
        std: f32,
    },
    /// Sets each pixel to 0 with probability `drop` (masking noise, Vincent et al. 2008).
    Masking {
        /// The fraction of pixels dropped, in [0, 1).
        drop: f32,
    },
}

impl Noise {
    /// Checks the numbers; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Noise::Gaussian { std } if !(std.is_finite() && std >= 0.0) => Err(format!(
                "noise std must be a non-negative number, not {std}"
            )),
            Noise::Masking { drop } if !(0.0..1.0).contains(&drop) => Err(format!(
                "the masking drop fraction must be in [0, 1), not {drop}"
            )),
            _ => Ok(()),
        }
    }

    /// Corrupts `values` in place.
    pub fn apply(&self, values: &mut [f32], rng: &mut Rng) {
        match *self {
            Noise::Gaussian { std } => {
                for v in values {
                    *v = (*v + std * rng.normal()).clamp(0.0, 1.0);
                }
            }
            Noise::Masking { drop } => {
                for v in values {
                    if rng.uniform() < drop {
                        *v = 0.0;
                    }
                }
            }
        }
    }
}

impl std::fmt::Display for Noise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Noise::Gaussian { std } => write!(f, "gaussian noise, std {std}, clipped to [0, 1]"),
            Noise::Masking { drop } => {
                write!(f, "masking noise, {:.0}% of pixels dropped", drop * 100.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_noise_stays_in_range_and_has_its_spread() {
        let mut v = vec![0.5f32; 50_000];
        Noise::Gaussian { std: 0.1 }.apply(&mut v, &mut Rng::new(1));
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
        assert!(
            (mean - 0.5).abs() < 0.01 && (sd - 0.1).abs() < 0.01,
            "{mean} {sd}"
        );
        let mut w = vec![1.0f32; 1000];
        Noise::Gaussian { std: 5.0 }.apply(&mut w, &mut Rng::new(1));
        assert!(w.contains(&0.0) && w.contains(&1.0), "clipped at both ends");
    }

    #[test]
    fn masking_drops_the_asked_fraction() {
        let mut v = vec![1.0f32; 100_000];
        Noise::Masking { drop: 0.3 }.apply(&mut v, &mut Rng::new(2));
        let dropped = v.iter().filter(|&&x| x == 0.0).count() as f32 / v.len() as f32;
        assert!((dropped - 0.3).abs() < 0.01, "{dropped}");
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.0));
    }

    #[test]
    fn bad_numbers_are_named() {
        assert!(
            Noise::Gaussian { std: -1.0 }
                .validate()
                .unwrap_err()
                .contains("std")
        );
        assert!(Noise::Gaussian { std: f32::NAN }.validate().is_err());
        assert!(
            Noise::Masking { drop: 1.0 }
                .validate()
                .unwrap_err()
                .contains("drop")
        );
        assert!(Noise::Masking { drop: 0.0 }.validate().is_ok());
    }
}
