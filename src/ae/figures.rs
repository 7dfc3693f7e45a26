//! The pictures both binaries draw from a trained model: `train` into the run folder when it
//! finishes, `ae` on request. One function per picture, so the two always agree.

use super::session::Session;
use crate::input::batch::samples_host;
use crate::picture::{Grid, interleave};
use ae_data::{Noise, Rng, Samples};
use anyhow::Result;

/// Screen pixels per image pixel in the pictures of real images.
pub const IMAGE_SCALE: u32 = 3;
/// Screen pixels per image pixel in the pictures of generated images.
pub const SAMPLE_SCALE: u32 = 2;

/// The images `indices` of `set` above their reconstructions, `cols` to a row.
pub fn reconstructions(s: &Session, set: &Samples, indices: &[usize], cols: usize) -> Result<Grid> {
    let (clean, out) = s.reconstruct(set, indices, None)?;
    let grid = |pixels: &[f32]| Grid::from_pixels(pixels, s.tile(), cols, IMAGE_SCALE);
    Ok(interleave(vec![grid(&clean), grid(&out)]))
}

/// The images `indices` of `set` corrupted by `noise` (with the test set's fixed draws), the
/// model's reconstructions of them and the clean images, in rows of three, `cols` to a row.
pub fn denoising(
    s: &Session,
    set: &Samples,
    indices: &[usize],
    noise: &Noise,
    cols: usize,
) -> Result<Grid> {
    let seed = crate::eval::test_seed(&s.cfg);
    let (noisy, out) = s.reconstruct(set, indices, Some((noise, seed)))?;
    let clean = samples_host(set, indices, None);
    let grid = |pixels: &[f32]| Grid::from_pixels(pixels, s.tile(), cols, IMAGE_SCALE);
    Ok(interleave(vec![grid(&noisy), grid(&out), grid(&clean)]))
}

/// Decodes of `count` codes drawn from N(0, T^2 I), the VAE's prior scaled by `temperature`,
/// with `seed`; at most ten to a row.
pub fn prior_samples(s: &Session, count: usize, temperature: f32, seed: u64) -> Result<Grid> {
    let k = s.cfg.network.code_dim();
    let mut rng = Rng::new(seed);
    let z: Vec<f32> = (0..count * k).map(|_| temperature * rng.normal()).collect();
    s.decode_grid(&z, count.min(10), SAMPLE_SCALE)
}
