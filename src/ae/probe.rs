//! `ae probe`: codes as features for supervised learning. A linear softmax classifier trained
//! on the training set's codes, scored on the test set's, next to the same classifier on the
//! raw pixels.

use super::RunArgs;
use super::session::{Session, random_indices};
use crate::run_dir::write_atomic;
use ae_data::{Samples, Split};
use anyhow::{Result, bail};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

/// `ae probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Passes of the classifier over the training set.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Samples per step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Train on the first N training samples only [default: all].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Test on the first N test samples only [default: all].
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Seed of the classifier's initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The JSON report to write [default: <run>/ae/probe.json].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One classifier's result.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// "code" or "pixels".
    pub features: String,
    /// Numbers per sample.
    pub dim: usize,
    /// Accuracy on the samples it was trained on.
    pub train_accuracy: f64,
    /// Accuracy on the test samples.
    pub test_accuracy: f64,
}

/// Host-side features: `n` rows of `dim` numbers and a label each.
struct Table {
    dim: usize,
    x: Vec<f32>,
    y: Vec<u8>,
}

impl Table {
    fn len(&self) -> usize {
        self.y.len()
    }

    fn rows(&self, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let mut x = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            x.extend_from_slice(&self.x[i * self.dim..][..self.dim]);
        }
        let y: Vec<i64> = idx.iter().map(|&i| i64::from(self.y[i])).collect();
        (
            Tensor::from_data(TensorData::new(x, [idx.len(), self.dim]), device),
            Tensor::from_data(TensorData::new(y, [idx.len()]), device),
        )
    }

    /// Each column's mean and standard deviation.
    fn column_stats(&self) -> Vec<(f32, f32)> {
        let (d, n) = (self.dim, self.len().max(1) as f64);
        let mut sum = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        for row in self.x.chunks(d) {
            for (j, &v) in row.iter().enumerate() {
                sum[j] += f64::from(v);
                sq[j] += f64::from(v) * f64::from(v);
            }
        }
        (0..d)
            .map(|j| {
                let m = sum[j] / n;
                let var = (sq[j] / n - m * m).max(0.0);
                (m as f32, var.sqrt().max(1e-6) as f32)
            })
            .collect()
    }

    /// Standardises every column with the given means and deviations.
    fn standardise(&mut self, stats: &[(f32, f32)]) {
        for row in self.x.chunks_mut(self.dim) {
            for (v, (m, sd)) in row.iter_mut().zip(stats) {
                *v = (*v - m) / sd;
            }
        }
    }
}

fn labels(set: &Samples) -> Vec<u8> {
    (0..set.len()).map(|i| set.label(i)).collect()
}

fn accuracy(model: &Linear, table: &Table, device: &Device) -> Result<f64> {
    let all: Vec<usize> = (0..table.len()).collect();
    let mut correct = 0.0;
    for chunk in all.chunks(1000) {
        let (x, y) = table.rows(chunk, device);
        let hits = model.forward(x).argmax(1).squeeze_dim::<1>(1).equal(y);
        correct += hits
            .float()
            .sum()
            .try_into_scalar::<f64>()
            .map_err(|e| anyhow::anyhow!("cannot read the accuracy back: {e:?}"))?;
    }
    Ok(correct / table.len().max(1) as f64)
}

/// How many classes the labels of either table number (at least 2).
fn class_count(train: &Table, test: &Table) -> usize {
    let top = train.y.iter().chain(&test.y).copied().max().unwrap_or(0);
    (usize::from(top) + 1).max(2)
}

/// Trains a softmax regression on `train`, both sets standardised with the training set's
/// column statistics, and scores it on both.
fn fit(
    name: &str,
    mut train: Table,
    mut test: Table,
    a: &ProbeArgs,
    device: &Device,
) -> Result<ProbeResult> {
    let stats = train.column_stats();
    train.standardise(&stats);
    test.standardise(&stats);
    let ad = device.clone().autodiff();
    ad.seed(a.seed);
    let mut model = LinearConfig::new(train.dim, class_count(&train, &test)).init(&ad);
    let mut optim = AdamConfig::new().init();
    let ce = CrossEntropyLossConfig::new().init(&ad);
    for epoch in 0..a.epochs {
        let order = random_indices(train.len(), train.len(), a.seed ^ (epoch as u64 + 1));
        for chunk in order.chunks(a.batch_size) {
            let (x, y) = train.rows(chunk, &ad);
            let loss = ce.forward(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(a.lr, model, grads);
        }
    }
    let model = model.valid();
    Ok(ProbeResult {
        features: name.into(),
        dim: train.dim,
        train_accuracy: accuracy(&model, &train, device)?,
        test_accuracy: accuracy(&model, &test, device)?,
    })
}

/// Fits the classifier on codes and on pixels, prints both and writes the report.
pub fn probe(a: &ProbeArgs) -> Result<()> {
    if a.epochs == 0 || a.batch_size == 0 {
        bail!("--epochs and --batch-size must be at least 1");
    }
    if !(a.lr.is_finite() && a.lr > 0.0) {
        bail!("--lr {}: give a positive number", a.lr);
    }
    let s = Session::open(&a.run)?;
    s.need_images("probe")?;
    if s.cfg.class_names().is_none() {
        bail!(
            "`ae probe` needs labels; the images of {} have none (put each class's images in a \
             subfolder of its own)",
            s.run.path.display()
        );
    }
    let train = s.load(Split::Train, a.limit)?;
    let test = s.load(Split::Test, a.test_limit)?;
    let k = s.cfg.network.code_dim();
    let all = |set: &Samples| (0..set.len()).collect::<Vec<_>>();
    let (train_y, test_y) = (labels(&train), labels(&test));
    eprintln!(
        "probe: {} epochs of softmax regression on {} training samples, scored on {} test samples",
        a.epochs,
        train.len(),
        test.len()
    );
    let code = fit(
        "code",
        Table {
            dim: k,
            x: s.codes(&train, &all(&train))?,
            y: train_y.clone(),
        },
        Table {
            dim: k,
            x: s.codes(&test, &all(&test))?,
            y: test_y.clone(),
        },
        a,
        &s.device,
    )?;
    let d = train.sample_size();
    let pixels = fit(
        "pixels",
        Table {
            dim: d,
            x: train.to_f32(),
            y: train_y,
        },
        Table {
            dim: d,
            x: test.to_f32(),
            y: test_y,
        },
        a,
        &s.device,
    )?;
    println!("| features | numbers | train accuracy | test accuracy |");
    println!("|---|---|---|---|");
    for r in [&code, &pixels] {
        println!(
            "| {} | {} | {:.2}% | {:.2}% |",
            r.features,
            r.dim,
            100.0 * r.train_accuracy,
            100.0 * r.test_accuracy
        );
    }
    let path = s.output(a.out.as_deref(), "probe.json")?;
    let json = serde_json::json!({
        "model": s.cfg.model.as_str(),
        "dataset": s.cfg.dataset.as_str(),
        "epochs": a.epochs,
        "lr": a.lr,
        "batch_size": a.batch_size,
        "results": [code, pixels],
    });
    write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}
