//! Training wiring: data, device, model, Burn's Learner and dashboard, and the run folder.

use crate::backend::{self, BackendChoice};
use crate::batch::{ImageBatcher, ImageIndices, images_tensor};
use crate::config::RunConfig;
use crate::metrics::{LOSS, TermMetric};
use crate::picture::{Grid, pairs};
use crate::render::{EpochLog, EpochRow, RunRenderer};
use crate::run_dir::{self, RunDir};
use ae_data::{ImageSet, Sources, Split};
use ae_models::{Autoencoder, LossTerms};
use anyhow::{Context, Result, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::renderer::default_renderer;
use burn::train::{Learner, SupervisedTraining};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How a training run is carried out (as opposed to what it computes, the [`RunConfig`]).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Where tensors live.
    pub backend: BackendChoice,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// The run folder.
    pub out: PathBuf,
    /// Replace a run already in `out`.
    pub overwrite: bool,
    /// Show Burn's dashboard when stdout is a terminal (else one line per epoch).
    pub dashboard: bool,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The run folder.
    pub out: PathBuf,
    /// The backend line shown at the start.
    pub backend_note: String,
    /// Per-epoch averages.
    pub epochs: Vec<EpochRow>,
    /// Test loss of the final model (per-pixel mean for BCE and MSE).
    pub test_loss: f64,
    /// Seconds spent loading the data.
    pub load_seconds: f64,
}

/// Both splits of the configured data set, limited as configured.
pub fn load_data(cfg: &RunConfig, data_dir: Option<PathBuf>) -> Result<(ImageSet, ImageSet)> {
    let sources = Sources::from_env(data_dir);
    let dataset = cfg.dataset.into();
    let mut train = ae_data::load(dataset, Split::Train, &sources)?;
    let mut test = ae_data::load(dataset, Split::Test, &sources)?;
    if let Some(n) = cfg.limit {
        train.truncate(n);
    }
    if let Some(n) = cfg.test_limit {
        test.truncate(n);
    }
    if (train.rows, train.cols) != (28, 28) {
        bail!(
            "{dataset}: images are {}x{}, the models take 28x28",
            train.rows,
            train.cols
        );
    }
    Ok((train, test))
}

/// Trains the model `cfg` describes and fills the run folder.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<TrainReport> {
    cfg.validate()?;
    let run = RunDir::create(&opts.out, opts.overwrite)?;
    let resolved = backend::resolve(opts.backend)?;
    eprintln!("{}", resolved.note);

    let started = Instant::now();
    let (train_set, test_set) = load_data(cfg, opts.data_dir.clone())?;
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "data: {} training and {} test images of {} ({load_seconds:.2} s)",
        train_set.len(),
        test_set.len(),
        ae_data::DatasetName::from(cfg.dataset)
    );
    run.save_config(cfg)?;

    let device = resolved.device;
    device.seed(cfg.seed);
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let model = Autoencoder::new(&cfg.network, cfg.loss, [1, 28, 28], &ad)?;

    let (train_set, test_set) = (Arc::new(train_set), Arc::new(test_set));
    let train_loader = DataLoaderBuilder::new(ImageBatcher::new(train_set.clone()))
        .batch_size(cfg.batch_size)
        .shuffle(cfg.seed)
        .set_device(ad.clone())
        .build(ImageIndices::of(&train_set));
    let test_loader = DataLoaderBuilder::new(ImageBatcher::new(test_set.clone()))
        .batch_size(cfg.batch_size)
        .set_device(device.clone())
        .build(ImageIndices::of(&test_set));

    let optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let learner = Learner::new(model, optimizer, cfg.lr);
    let log = EpochLog::default();
    let training = SupervisedTraining::new(&run.path, train_loader, test_loader)
        .metric_train_numeric(TermMetric::new(LOSS))
        .metric_valid_numeric(TermMetric::new(LOSS))
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
        .num_epochs(cfg.epochs);
    let dashboard = opts.dashboard && std::io::stdout().is_terminal();
    let inner = dashboard.then(|| default_renderer(training.interrupter(), None));
    let renderer = RunRenderer::new(inner, run.file(run_dir::METRICS), log.clone());
    let result = training.renderer(Box::new(renderer)).launch(learner);

    if let Some(err) = &result.error {
        bail!("training failed: {err}");
    }
    if let Some(e) = log.write_error() {
        bail!("{e}");
    }
    let model = result.model.valid();
    run.save_weights(&model)?;
    save_reconstructions(
        &model,
        &test_set,
        &run.file(run_dir::RECONSTRUCTIONS),
        &device,
    )?;

    let epochs = log.rows();
    let test_loss = match epochs.last().and_then(|r| r.test.get(LOSS)) {
        Some(v) => *v,
        None => evaluate(&model, &test_set, cfg.batch_size, &device)?,
    };
    if let Some(i) = &result.interrupted {
        eprintln!(
            "training stopped early ({}); the weights of the last finished step were saved",
            i.reason.as_deref().unwrap_or("interrupted")
        );
    }
    Ok(TrainReport {
        out: run.path,
        backend_note: resolved.note,
        epochs,
        test_loss,
        load_seconds,
    })
}

/// The model's mean loss over `set` (per pixel for BCE and MSE), in batches of `batch_size`.
pub fn evaluate(
    model: &Autoencoder,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> Result<f64> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut sum = 0.0;
    for chunk in indices.chunks(batch_size.max(1)) {
        let images = images_tensor(set, chunk, device);
        let LossTerms { total, .. } = model.forward_loss(images.clone(), images);
        let value: f64 = total
            .try_into_scalar::<f64>()
            .map_err(|e| anyhow::anyhow!("cannot read the loss back from the device: {e:?}"))?;
        sum += value * chunk.len() as f64;
    }
    Ok(sum / set.len().max(1) as f64)
}

/// Writes the first 20 test images above their reconstructions, 10 to a row, 3x upscaled.
pub fn save_reconstructions(
    model: &Autoencoder,
    set: &ImageSet,
    path: &std::path::Path,
    device: &Device,
) -> Result<()> {
    let indices: Vec<usize> = (0..set.len().min(20)).collect();
    let images = images_tensor(set, &indices, device);
    let recon = model.reconstruct(images.clone());
    let grid = pairs(
        Grid::from_tensor(images, 10, 3)?,
        Grid::from_tensor(recon, 10, 3)?,
    );
    grid.save_png(path)
        .with_context(|| format!("cannot save {}", path.display()))
}
