//! Memory preflight: before a model is built, an estimate of what training it takes, checked
//! against what the machine (and, on wgpu, one device buffer) can hold, so that absurd sizes
//! end in one line with the figures instead of an abort in the allocator.
//!
//! The estimate, in 4-byte floats: the parameters four times (weights, gradients, Adam's two
//! moments) and one batch's activations three times (the forward values autodiff keeps, their
//! gradients, and the temporaries of the step). It is an order of magnitude, meant to catch
//! sizes thousands of times too large, not to fit a model to the last byte.

use crate::backend::{BackendChoice, wgpu_adapters};
use crate::config::RunConfig;
use ae_models::Footprint;
use anyhow::{Result, bail};

/// Bytes of one number.
const FLOAT: f64 = 4.0;

/// What training `cfg` with batches of `batch` samples takes, in bytes.
pub fn training_bytes(footprint: &Footprint, batch: usize) -> f64 {
    FLOAT * (4.0 * footprint.params + 3.0 * batch as f64 * footprint.activations)
}

/// Refuses a run whose estimate exceeds the memory available, or (on wgpu) whose largest
/// tensor exceeds the adapter's buffer limit. `batch` is the batch as it will run (at most the
/// training set).
pub fn check_training(cfg: &RunConfig, backend: BackendChoice, batch: usize) -> Result<()> {
    let f = cfg.network.footprint(cfg.sample_shape());
    let need = training_bytes(&f, batch);
    let sizes = "choose smaller sizes (--latent-dim, --hidden, the config's channels) or a \
                 smaller --batch-size";
    if let Some(available) = available_bytes()
        && need > available
    {
        bail!(
            "{} with these sizes needs about {} to train ({} parameters, each with its \
             gradient and Adam's two moments, and the activations of a batch of {batch}), \
             more than the {} of memory available; {sizes}",
            cfg.model,
            bytes(need),
            count(f.params),
            bytes(available)
        );
    }
    if backend == BackendChoice::Wgpu
        && let Some(adapter) = wgpu_adapters().first()
    {
        let largest = FLOAT * f.largest_param.max(batch as f64 * f.largest_activation);
        let limit = adapter.max_buffer_bytes as f64;
        if largest > limit {
            bail!(
                "{} with these sizes needs a single tensor of {}, more than the {} one buffer \
                 may hold on {}; {sizes}",
                cfg.model,
                bytes(largest),
                bytes(limit),
                adapter.name
            );
        }
    }
    Ok(())
}

/// The memory the kernel says can be had without swapping (`MemAvailable`), if it says.
pub fn available_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// `bytes` for a person: `1.5 GB`, `820 MB`, `3.1e+04 TB`.
pub fn bytes(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < units.len() {
        v /= 1000.0;
        unit += 1;
    }
    if v >= 1000.0 {
        format!("{v:.1e} {}", units[unit])
    } else if v >= 10.0 || unit == 0 {
        format!("{v:.0} {}", units[unit])
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

/// A count for a person: `50,992`, or `6.3e12` when it is huge.
fn count(n: f64) -> String {
    if n >= 1e9 {
        return format!("{n:.1e}");
    }
    let digits = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelName;

    #[test]
    fn figures_read_as_a_person_writes_them() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1.5e9), "1.5 GB");
        assert_eq!(bytes(820e6), "820 MB");
        assert_eq!(bytes(2.5e16), "2.5e4 TB");
        assert_eq!(count(50_992.0), "50,992");
        assert_eq!(count(6.3e12), "6.3e12");
    }

    #[test]
    fn the_default_models_pass_and_absurd_sizes_do_not() {
        for model in ModelName::ALL {
            let cfg = model.default_config();
            let f = cfg.network.footprint(cfg.sample_shape());
            // Every default model trains in well under a gigabyte.
            assert!(training_bytes(&f, cfg.batch_size) < 1e9, "{model}");
        }
        let mut cfg = ModelName::DenseAe.default_config();
        if let Some(d) = cfg.network.dense_mut() {
            d.hidden = vec![100_000, 100_000];
        }
        let f = cfg.network.footprint(cfg.sample_shape());
        // 2 x 10^10 weights between the two hidden layers alone, four copies of each.
        assert!(training_bytes(&f, 256) > 3e11);
    }
}
