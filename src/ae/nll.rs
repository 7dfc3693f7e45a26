//! `ae nll`: a VAE's test log-likelihood, estimated by importance sampling (Burda et al. 2015,
//! "Importance Weighted Autoencoders"): for each image, `k` codes drawn from q(z|x), and
//! `log p(x) ~ log mean_j exp(log w_j)`. Printed next to the ELBO the same draws give, which it
//! bounds from above image by image (Jensen's inequality).

use super::RunArgs;
use super::session::Session;
use crate::backend::read_f32;
use crate::eval::evaluate;
use crate::input::batch::samples_tensor;
use crate::run_dir::write_atomic;
use ae_data::{Rng, Split};
use ae_models::{Network, ReconLoss};
use anyhow::{Result, bail};
use burn::prelude::*;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Decodes per forward pass: images x samples.
const DECODES_PER_PASS: usize = 10_000;

/// `ae nll`.
#[derive(Debug, clap::Args)]
pub struct NllArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Codes drawn from q(z|x) per image (the IWAE paper's 5000 by default).
    #[arg(long, default_value_t = 5000)]
    pub samples: usize,
    /// Use the first N test images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The JSON to write [default: <run>/ae/nll.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `ae nll` measured, in nats per image.
#[derive(Debug, Clone, Serialize)]
pub struct NllReport {
    /// Test images.
    pub images: usize,
    /// Draws per image.
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Mean over images of `-log mean_j exp(log w_j)`: the estimate of -log p(x).
    pub nll: f64,
    /// Its standard error over images.
    pub nll_stderr: f64,
    /// Mean over images and draws of `-log w_j`: the negative ELBO, sampled.
    pub neg_elbo_sampled: f64,
    /// The test loss: the negative ELBO with the KL in closed form and one fixed draw per
    /// image for the reconstruction (what training reports when beta is 1).
    pub neg_elbo: f64,
    /// The VAE's beta (the test loss weights its KL by it).
    pub beta: f64,
    /// Seconds it took.
    pub seconds: f64,
}

/// `log mean_j exp(v_j)`, computed without overflow.
pub fn log_mean_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = v.iter().map(|x| (x - max).exp()).sum();
    max + (sum / v.len() as f64).ln()
}

/// Estimates and prints the test log-likelihood, and writes nll.json.
pub fn nll(a: &NllArgs) -> Result<()> {
    if !(1..=1_000_000).contains(&a.samples) {
        bail!("--samples {}: give 1 to 1000000", a.samples);
    }
    let s = Session::open(&a.run)?;
    s.need_vae("nll", "estimates a VAE's likelihood")?;
    s.need_images("nll")?;
    if s.cfg.loss != ReconLoss::Bce {
        bail!(
            "`ae nll` needs a likelihood; {} was trained with --loss {}, which is not one \
             (train the VAE with --loss bce)",
            s.run.path.display(),
            s.cfg.loss.as_str()
        );
    }
    let Network::Vae(vae) = s.model.network() else {
        bail!("{} holds no VAE", s.run.path.display());
    };
    let set = s.load(Split::Test, a.limit)?;
    let (k, latent, image) = (a.samples, s.cfg.network.code_dim(), s.cfg.sample_shape());
    let started = Instant::now();
    let per_pass = (DECODES_PER_PASS / k).max(1);
    let draws_per_pass = k.min(DECODES_PER_PASS);
    let (mut per_image, mut sampled) = (Vec::with_capacity(set.len()), 0.0);
    let progress = std::io::stderr().is_terminal();
    let indices: Vec<usize> = (0..set.len()).collect();
    for chunk in indices.chunks(per_pass) {
        let mut weights = vec![Vec::with_capacity(k); chunk.len()];
        let mut rngs: Vec<Rng> = chunk
            .iter()
            .map(|&i| Rng::stream(a.seed, i as u64))
            .collect();
        let mut drawn = 0;
        while drawn < k {
            let n = draws_per_pass.min(k - drawn);
            let eps: Vec<f32> = rngs
                .iter_mut()
                .flat_map(|r| (0..n * latent).map(|_| r.normal()).collect::<Vec<_>>())
                .collect();
            let eps =
                Tensor::<3>::from_data(TensorData::new(eps, [chunk.len(), n, latent]), &s.device);
            let x = samples_tensor(&set, chunk, &s.device);
            let lw = read_f32(vae.log_weights(x, eps, s.cfg.loss, image), "log-weights")?;
            for (row, w) in weights.iter_mut().enumerate() {
                w.extend(lw[row * n..][..n].iter().map(|&v| f64::from(v)));
            }
            drawn += n;
        }
        for w in &weights {
            sampled += w.iter().sum::<f64>() / k as f64;
            per_image.push(-log_mean_exp(w));
        }
        if progress {
            eprint!("\r  nll {}/{} images  ", per_image.len(), set.len());
        }
    }
    if progress {
        eprint!("\r{:40}\r", "");
    }
    let n = per_image.len() as f64;
    let nll = per_image.iter().sum::<f64>() / n;
    let var = per_image.iter().map(|v| (v - nll).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let beta = match &s.cfg.network {
        ae_models::NetworkConfig::Vae(v) => v.beta,
        _ => 1.0,
    };
    let report = NllReport {
        images: per_image.len(),
        samples: k,
        seed: a.seed,
        nll,
        nll_stderr: (var / n).sqrt(),
        neg_elbo_sampled: -sampled / n,
        neg_elbo: evaluate(&s.model, &set, &s.cfg, &s.device)?,
        beta,
        seconds: started.elapsed().as_secs_f64(),
    };
    let path = s.output(a.out.as_deref(), "nll.json")?;
    write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!(
        "-log p(x) ~ {:.3} +- {:.3} nats per image ({} test images, k = {k} draws from q(z|x)); \
         -ELBO {:.3} from the same draws{}; the bound is {:.3} nats tighter",
        report.nll,
        report.nll_stderr,
        report.images,
        report.neg_elbo_sampled,
        if beta == 1.0 {
            format!(
                ", {:.3} as the test loss (KL in closed form)",
                report.neg_elbo
            )
        } else {
            String::new()
        },
        report.neg_elbo_sampled - report.nll
    );
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mean_exp_is_the_naive_one_without_its_overflow() {
        let v = [0.5, -1.0, 2.0, 0.0];
        let naive = (v.iter().map(|x: &f64| x.exp()).sum::<f64>() / 4.0).ln();
        assert!((log_mean_exp(&v) - naive).abs() < 1e-12);
        // Log-weights of images are hundreds of nats below zero: exp underflows, this does not.
        let low = [-800.0, -801.0, -799.0];
        let shifted = log_mean_exp(&[0.0, -1.0, 1.0]) - 800.0;
        assert!((log_mean_exp(&low) - shifted).abs() < 1e-9);
        assert_eq!(log_mean_exp(&[-3.0]), -3.0);
        // Jensen: never below the mean.
        assert!(log_mean_exp(&v) >= v.iter().sum::<f64>() / 4.0);
    }
}
