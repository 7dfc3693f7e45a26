//! Training wiring: data, device, model, Burn's Learner and dashboard, and the run folder.

use crate::backend::{self, BackendChoice};
use crate::batch::{Corruption, SampleBatcher, SampleIndices};
use crate::checkpoint;
use crate::config::RunConfig;
use crate::epoch_log::{EpochLog, EpochRow, LOSS, from_csv};
use crate::eval::{self, test_latent_noise, test_seed};
use crate::metrics::{NonFiniteGuard, TermMetric};
use crate::render::RunRenderer;
use crate::resident::Placement;
use crate::run_dir::{self, RunDir};
use ae_models::Autoencoder;
use anyhow::{Result, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::renderer::default_renderer;
use burn::train::{Learner, SupervisedTraining};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
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
    // Before the run folder: a backend that cannot start leaves nothing behind.
    let resolved = backend::resolve(opts.backend)?;
    let (run, done, log) = if opts.resume {
        resume_point(cfg, &opts.out)?
    } else {
        let run = RunDir::create(&opts.out, opts.overwrite)?;
        (run, 0, EpochLog::default())
    };
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

    let placement = Placement::for_backend(resolved.backend);
    let device = resolved.device;
    device.seed(cfg.seed);
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let model = Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), &ad)?;
    if done > 0 {
        // Burn panics on a record that does not fit; check it here, where it can be said.
        let file = checkpoint::model_file(&run.path, done);
        let record = ModuleRecord::load(&file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        model.clone().try_load_record(record).map_err(|e| {
            anyhow::anyhow!(
                "{} does not fit the {} in {}: {e}",
                file.display(),
                cfg.model,
                run.file(run_dir::CONFIG).display()
            )
        })?;
    }

    let (train_set, test_set) = (Arc::new(train_set), Arc::new(test_set));
    let batches_per_epoch = train_set.len().div_ceil(cfg.batch_size);
    let (fresh, fixed) = match cfg.noise {
        Some(n) => (Corruption::Fresh(n), Corruption::Fixed(n)),
        None => (Corruption::None, Corruption::None),
    };
    let train_batcher = SampleBatcher::new(train_set.clone(), cfg.seed)
        .with_corruption(fresh)
        .with_placement(placement)
        .for_training(batches_per_epoch, cfg.network.warmup_epochs(), done);
    let test_batcher = SampleBatcher::new(test_set.clone(), test_seed(cfg))
        .with_corruption(fixed)
        .with_latent_noise(test_latent_noise(cfg))
        .with_placement(placement);
    if matches!(placement, Placement::Device { .. }) {
        let kept = train_batcher
            .keep_on(&ad)
            .and_then(|()| test_batcher.keep_on(&device));
        match kept {
            Ok(()) => eprintln!("data set kept on the device; a step uploads only its indices"),
            Err(e) => eprintln!("batches are made on the host: {e:#}"),
        }
    }
    // In order: the batcher shuffles, so that an epoch's order depends on the epoch alone.
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(cfg.batch_size)
        .set_device(ad.clone())
        .build(SampleIndices::of(&train_set));
    let test_loader = DataLoaderBuilder::new(test_batcher)
        .batch_size(cfg.batch_size)
        .set_device(device.clone())
        .build(SampleIndices::of(&test_set));

    let optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let learner = Learner::new(model, optimizer, cfg.lr);
    let training = SupervisedTraining::new(&run.path, train_loader, test_loader);
    let guard = NonFiniteGuard::new(training.interrupter(), log.clone(), batches_per_epoch);
    let mut training = training
        .metric_train_numeric(TermMetric::new(LOSS).guarded(guard.clone(), true))
        .metric_valid_numeric(TermMetric::new(LOSS).guarded(guard.clone(), false));
    for term in cfg.network.term_names() {
        training = training
            .metric_train_numeric(TermMetric::new(term))
            .metric_valid_numeric(TermMetric::new(term));
    }
    let [model_ckpt, optim_ckpt, scheduler_ckpt] = checkpoint::checkpointers(&run.path);
    let mut training = training
        .with_custom_checkpointers(model_ckpt, optim_ckpt, scheduler_ckpt)
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
        // metrics.csv holds the epoch averages; Burn's per-batch logs would only repeat them.
        .with_metric_logger(NoMetricLog)
        .num_epochs(cfg.epochs);
    if done > 0 {
        training = training.checkpoint(done);
    }
    let dashboard = opts.dashboard && std::io::stdout().is_terminal();
    let resumed = (done > 0).then_some(done);
    let inner = dashboard.then(|| default_renderer(training.interrupter(), resumed));
    let renderer = RunRenderer::new(inner, run.file(run_dir::METRICS), log.clone());
    let result = training.renderer(Box::new(renderer)).launch(learner);

    if let Some(err) = &result.error {
        bail!("training failed: {err}");
    }
    if let Some(what) = guard.found() {
        bail!("training stopped: {what}; {}", last_good(cfg, &run));
    }
    if let Some(e) = log.write_error() {
        bail!("{e}");
    }
    let model = result.model.valid();
    run.save_weights(&model)?;
    crate::report::after_training(cfg, &model, &train_set, &test_set, &run, &device)?;

    let epochs = log.rows();
    // Checked against flex's evaluation of the saved weights: a backend that computes a wrong
    // figure is said, not printed silently.
    let reference = eval::reference_loss(&run, &test_set)?;
    let test_loss = match epochs.last().and_then(|r| r.test.get(LOSS)) {
        Some(&reported) if result.interrupted.is_none() => {
            let agree = eval::agrees(reported, reference);
            if !agree {
                eprintln!(
                    "warning: {} reported test loss {reported:.6}, but flex computes {reference:.6} \
                     from the saved weights; the second is the model's, the first (and \
                     metrics.csv) a fault of the backend",
                    resolved.backend.as_str()
                );
            }
            if agree { reported } else { reference }
        }
        // Stopped early: the saved weights are the last step's, not the last epoch's.
        _ => reference,
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

/// Opens the run in `out` to continue it: the epochs finished (0 when none was), and the
/// log of those epochs read back from `metrics.csv`.
fn resume_point(cfg: &RunConfig, out: &Path) -> Result<(RunDir, usize, EpochLog)> {
    let run = RunDir::reopen(out)?;
    let done = checkpoint::latest(&run.path).unwrap_or(0);
    if done > cfg.epochs {
        bail!(
            "the run in {} has finished {done} epochs, more than --epochs {}; pass --epochs \
             {done} or more",
            out.display(),
            cfg.epochs
        );
    }
    if done == cfg.epochs && weights_are_newer(&run, done) {
        bail!(
            "the run in {} has finished all its {done} epochs; pass --epochs N (more than \
             {done}) to train it further",
            out.display()
        );
    }
    let rows = match std::fs::read_to_string(run.file(run_dir::METRICS)) {
        Ok(text) => {
            let mut names = vec![LOSS];
            names.extend(cfg.network.term_names());
            from_csv(&text, &names)
                .map_err(|e| anyhow::anyhow!("{}: {e}", run.file(run_dir::METRICS).display()))?
        }
        Err(_) => Vec::new(),
    };
    if done == 0 {
        eprintln!(
            "resume: no epoch of the run in {} had finished; starting it again from epoch 1",
            out.display()
        );
    } else {
        eprintln!(
            "resume: continuing the run in {} after epoch {done} of {}",
            out.display(),
            cfg.epochs
        );
    }
    Ok((run, done, EpochLog::continuing(rows, done)))
}

/// Whether the run's final weights were saved after its checkpoint of `epoch` (else they are
/// left from an earlier, shorter run in the same folder).
fn weights_are_newer(run: &RunDir, epoch: usize) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(run.file(run_dir::WEIGHTS)),
        modified(checkpoint::model_file(&run.path, epoch)),
    ) {
        (Some(weights), Some(ckpt)) => weights >= ckpt,
        (weights, _) => weights.is_some(),
    }
}

/// Where the last good weights of a stopped run are, and how to go on from them.
fn last_good(cfg: &RunConfig, run: &RunDir) -> String {
    match checkpoint::latest(&run.path) {
        Some(epoch) => format!(
            "the weights of epoch {epoch}, the last good ones, are in {}; `train {} --resume \
             --out {} --lr <smaller>` continues from them",
            checkpoint::model_file(&run.path, epoch).display(),
            cfg.model,
            run.path.display()
        ),
        None => "no epoch had finished, so no weights were kept; try a smaller --lr".into(),
    }
}

/// Keeps none of Burn's per-batch metric logs.
struct NoMetricLog;

impl MetricLogger for NoMetricLog {
    fn log(&mut self, _: MetricsUpdate, _: usize, _: &Split) {}

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("metrics are not logged per batch; see metrics.csv".into())
    }

    fn log_metric_definition(&mut self, _: MetricDefinition) {}

    fn log_epoch_summary(&mut self, _: EpochSummary) {}
}
