//! Training wiring: data, device, model, Burn's Learner and dashboard, and the run folder.

use crate::backend::{self, BackendChoice};
use crate::batch::{Corruption, SampleBatcher, SampleIndices, corrupted_tensor, samples_tensor};
use crate::config::RunConfig;
use crate::metrics::{LOSS, TermMetric};
use crate::render::{EpochLog, EpochRow, RunRenderer};
use crate::run_dir::{self, RunDir};
use ae_data::Samples;
use ae_models::Autoencoder;
use anyhow::{Result, bail};
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
    /// Test loss of the final model (in [`RunConfig::loss_unit`]).
    pub test_loss: f64,
    /// Seconds spent loading the data.
    pub load_seconds: f64,
}

/// Trains the model `cfg` describes and fills the run folder.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<TrainReport> {
    cfg.validate()?;
    let run = RunDir::create(&opts.out, opts.overwrite)?;
    let resolved = backend::resolve(opts.backend)?;
    eprintln!("{}", resolved.note);

    let started = Instant::now();
    let (train_set, test_set) = crate::data::load(cfg, opts.data_dir.clone())?;
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "data: {} training and {} test samples of {} ({load_seconds:.2} s)",
        train_set.len(),
        test_set.len(),
        cfg.dataset
    );
    if let Some(noise) = &cfg.noise {
        eprintln!("inputs corrupted by {noise}; targets clean");
    }
    run.save_config(cfg)?;

    let device = resolved.device;
    device.seed(cfg.seed);
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let model = Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), &ad)?;

    let (train_set, test_set) = (Arc::new(train_set), Arc::new(test_set));
    let batches_per_epoch = train_set.len().div_ceil(cfg.batch_size);
    let (fresh, fixed) = match cfg.noise {
        Some(n) => (Corruption::Fresh(n), Corruption::Fixed(n)),
        None => (Corruption::None, Corruption::None),
    };
    let train_batcher = SampleBatcher::new(train_set.clone(), cfg.seed)
        .with_corruption(fresh)
        .with_warmup(cfg.network.warmup_epochs(), batches_per_epoch);
    let test_batcher = SampleBatcher::new(test_set.clone(), test_seed(cfg)).with_corruption(fixed);
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(cfg.batch_size)
        .shuffle(cfg.seed)
        .set_device(ad.clone())
        .build(SampleIndices::of(&train_set));
    let test_loader = DataLoaderBuilder::new(test_batcher)
        .batch_size(cfg.batch_size)
        .set_device(device.clone())
        .build(SampleIndices::of(&test_set));

    let optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let learner = Learner::new(model, optimizer, cfg.lr);
    let log = EpochLog::default();
    let mut training = SupervisedTraining::new(&run.path, train_loader, test_loader)
        .metric_train_numeric(TermMetric::new(LOSS))
        .metric_valid_numeric(TermMetric::new(LOSS));
    for term in cfg.network.term_names() {
        training = training
            .metric_train_numeric(TermMetric::new(term))
            .metric_valid_numeric(TermMetric::new(term));
    }
    let training = training
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
    crate::report::after_training(cfg, &model, &train_set, &test_set, &run, &device)?;

    let epochs = log.rows();
    let test_loss = match epochs.last().and_then(|r| r.test.get(LOSS)) {
        Some(v) => *v,
        None => evaluate(&model, &test_set, cfg, &device)?,
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

/// The seed of the test set's fixed corruption (another stream than training's).
pub fn test_seed(cfg: &RunConfig) -> u64 {
    cfg.seed ^ 0x07E5_75E7
}

/// The model's mean loss over `set` (corrupted as the run's test set is), in batches.
pub fn evaluate(
    model: &Autoencoder,
    set: &Samples,
    cfg: &RunConfig,
    device: &Device,
) -> Result<f64> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut sum = 0.0;
    for chunk in indices.chunks(cfg.batch_size.max(1)) {
        let target = samples_tensor(set, chunk, device);
        let input = match &cfg.noise {
            Some(n) => corrupted_tensor(set, chunk, n, test_seed(cfg), device),
            None => target.clone(),
        };
        let value: f64 = model
            .forward_loss(input, target, 1.0)
            .total
            .try_into_scalar::<f64>()
            .map_err(|e| anyhow::anyhow!("cannot read the loss back from the device: {e:?}"))?;
        sum += value * chunk.len() as f64;
    }
    Ok(sum / set.len().max(1) as f64)
}
