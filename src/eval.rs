//! Evaluation, shared by `train`, its report and the `ae` commands: a model's mean loss over a
//! data set, corrupted and (for the VAE) sampled the way the run's test set is, and the check of
//! a backend's figure against flex's evaluation of the same saved weights.

use crate::config::RunConfig;
use crate::input::batch::{corrupted_tensor, latent_noise, samples_tensor};
use crate::run_dir::RunDir;
use ae_data::Samples;
use ae_models::{Autoencoder, NetworkConfig};
use anyhow::Result;
use burn::prelude::*;

/// How far (relative) a backend's loss may be from flex's for the same weights and batch.
pub const AGREEMENT: f64 = 1e-4;

/// The seed of the test set's fixed corruption (another stream than training's).
pub fn test_seed(cfg: &RunConfig) -> u64 {
    cfg.seed ^ 0x07E5_75E7
}

/// Numbers of VAE noise a test sample gets from the host (0 for the other models, which have
/// none): the VAE's test figure is then a function of its weights alone.
pub fn test_latent_noise(cfg: &RunConfig) -> usize {
    if matches!(cfg.network, NetworkConfig::Vae(_)) {
        cfg.network.code_dim()
    } else {
        0
    }
}

/// The model's mean loss over `set` (corrupted as the run's test set is), in batches.
pub fn evaluate(
    model: &Autoencoder,
    set: &Samples,
    cfg: &RunConfig,
    device: &Device,
) -> Result<f64> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let k = test_latent_noise(cfg);
    let mut sum = 0.0;
    for chunk in indices.chunks(cfg.batch_size.max(1)) {
        let target = samples_tensor(set, chunk, device);
        let input = match &cfg.noise {
            Some(n) => corrupted_tensor(set, chunk, n, test_seed(cfg), device),
            None => target.clone(),
        };
        let noise = (k > 0).then(|| latent_noise(test_seed(cfg), chunk, k, device));
        let value: f64 = model
            .forward_loss_with(input, target, 1.0, noise)
            .total
            .try_into_scalar::<f64>()
            .map_err(|e| anyhow::anyhow!("cannot read the loss back from the device: {e:?}"))?;
        sum += value * chunk.len() as f64;
    }
    Ok(sum / set.len().max(1) as f64)
}

/// The loss over `set` that flex, the reference CPU backend, computes from the weights saved
/// in `run`: independent of the backend that trained them.
pub fn reference_loss(run: &RunDir, set: &Samples) -> Result<f64> {
    let flex = Device::flex();
    let (cfg, model) = run.load_model(&flex)?;
    evaluate(&model, set, &cfg, &flex)
}

/// Whether `figure` agrees with `reference` within [`AGREEMENT`].
pub fn agrees(figure: f64, reference: f64) -> bool {
    (figure - reference).abs() <= AGREEMENT * reference.abs().max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::agrees;

    #[test]
    fn agreement_is_relative() {
        assert!(agrees(0.100005, 0.1));
        assert!(!agrees(0.10002, 0.1));
        assert!(agrees(100.005, 100.0));
        assert!(!agrees(1.26004, 0.46069));
        assert!(!agrees(f64::NAN, 0.1));
    }
}
