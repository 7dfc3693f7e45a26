//! Training: from a command line ([`cli`], [`overrides`]) to a run folder, through Burn's
//! Learner with our metrics ([`metrics`]), the epoch record ([`epoch_log`]), the dashboard or
//! quiet lines ([`render`]), atomic checkpoints ([`checkpoint`]) and the run's pictures and
//! figures ([`report`]).

pub mod checkpoint;
pub mod cli;
pub mod defaults;
pub mod epoch_log;
mod folder_flags;
pub mod metrics;
pub mod overrides;
pub mod render;
pub mod report;
pub mod resume;

use crate::ae::session::Session;
use crate::backend::{self, BackendChoice, KernelsArg};
use crate::config::RunConfig;
use crate::eval::{self, test_latent_noise, test_seed};
use crate::input::batch::{Corruption, SampleBatcher, SampleIndices};
use crate::input::resident::Placement;
use crate::preflight;
use crate::run_dir::{self, RunDir};
use crate::train::epoch_log::{EpochLog, EpochRow, LOSS};
use crate::train::metrics::{NoMetricLog, NonFiniteGuard, TermMetric};
use crate::train::render::RunRenderer;
use crate::train::resume::{last_good, resume_point};
use ae_data::Samples;
use ae_kernels::adam::FusedAdam;
use ae_models::Autoencoder;
use anyhow::{Result, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::*;
use burn::store::ModuleRecord;
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
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
    /// Show Burn's dashboard when stdout is a terminal (else one line per epoch).
    pub dashboard: bool,
    /// Our kernels or Burn's layers.
    pub kernels: KernelsArg,
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

/// Trains the model `cfg` describes and fills the run folder, in the steps Burn's guide takes:
/// open the run, load the data, build the model, the batchers and the training, run it, finish.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<TrainReport> {
    cfg.validate()?;
    // Before the run folder: a backend that cannot start leaves nothing behind.
    let resolved = backend::resolve(opts.backend)?;
    opts.kernels.apply();
    let opened = open_run(cfg, opts)?;
    eprintln!("{}", resolved.note);
    let (train_set, test_set, load_seconds) = load_data(cfg, opts, &opened)?;
    let batch = cfg.batch_size.min(train_set.len());
    if let Err(e) = preflight::check_training(cfg, resolved.backend, batch) {
        opened.abandon();
        return Err(e);
    }
    opened.run.save_config(cfg)?;

    let device = resolved.device.clone();
    device.seed(cfg.seed);
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let model = build_model(cfg, &opened, &ad)?;
    let sets = (Arc::new(train_set), Arc::new(test_set));
    let placement = Placement::for_backend(resolved.backend);
    let (train_batcher, test_batcher) = build_batchers(cfg, &sets, placement, opened.done);
    if matches!(placement, Placement::Device { .. }) {
        let kept = train_batcher
            .keep_on(&ad)
            .and_then(|()| test_batcher.keep_on(&device));
        match kept {
            Ok(()) => eprintln!("data set kept on the device; a step uploads only its indices"),
            Err(e) => eprintln!("batches are made on the host: {e:#}"),
        }
    }
    let batchers = (train_batcher, test_batcher);
    let trained = run_training(cfg, opts, &opened, model, batchers, &sets, (&ad, &device))?;
    finish(cfg, opts, resolved, opened, trained, &sets, load_seconds)
}

/// A run folder ready for training: new, or reopened by `--resume` with the epochs finished
/// and their log.
struct OpenedRun {
    run: RunDir,
    done: usize,
    log: EpochLog,
    /// Whether this run made the folder (so it may remove it again, if still empty).
    made_folder: bool,
}

impl OpenedRun {
    /// For a run that cannot start: removes the folder if this run made it and nothing has
    /// been written into it yet (`remove_dir` removes only an empty folder).
    fn abandon(&self) {
        if self.made_folder {
            let _ = std::fs::remove_dir(&self.run.path);
        }
    }
}

fn open_run(cfg: &RunConfig, opts: &TrainOptions) -> Result<OpenedRun> {
    let made_folder = !opts.out.exists();
    let (run, done, log) = if opts.resume {
        resume_point(cfg, &opts.out)?
    } else {
        let run = RunDir::create(&opts.out, opts.overwrite)?;
        (run, 0, EpochLog::default())
    };
    Ok(OpenedRun {
        run,
        done,
        log,
        made_folder,
    })
}

/// The training and test sets, and the seconds it took to load them. A folder this run made
/// is not left behind empty when they cannot be loaded.
fn load_data(
    cfg: &RunConfig,
    opts: &TrainOptions,
    opened: &OpenedRun,
) -> Result<(Samples, Samples, f64)> {
    let started = Instant::now();
    let (train_set, test_set) = match crate::input::data::load(cfg, opts.data_dir.clone()) {
        Ok(sets) => sets,
        Err(e) => {
            opened.abandon();
            return Err(e);
        }
    };
    let load_seconds = started.elapsed().as_secs_f64();
    let source = match &cfg.folder {
        Some(f) => format!("the folder {}", f.dir.display()),
        None => cfg.dataset.to_string(),
    };
    eprintln!(
        "data: {} training and {} test samples of {source} ({load_seconds:.2} s)",
        train_set.len(),
        test_set.len(),
    );
    if let Some(noise) = &cfg.noise {
        eprintln!("inputs corrupted by {noise}; targets clean");
    }
    Ok((train_set, test_set, load_seconds))
}

/// The model with fresh weights on `ad`. On `--resume`, the checkpoint it continues from is
/// checked first (Burn panics on a record that does not fit; here it can be said).
fn build_model(cfg: &RunConfig, opened: &OpenedRun, ad: &Device) -> Result<Autoencoder> {
    let model = Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), ad)?;
    let (run, done) = (&opened.run, opened.done);
    if done > 0 {
        let file = checkpoint::model_file(&run.path, done);
        let record = ModuleRecord::load(&file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        let loaded = model.clone().try_load_record(record).map_err(|e| {
            anyhow::anyhow!(
                "{} does not fit the {} in {}: {e}",
                file.display(),
                cfg.model,
                run.file(run_dir::CONFIG).display()
            )
        })?;
        checkpoint::check_optimizer_record(&run.path, done, &loaded)?;
    }
    Ok(model)
}

/// The training batcher (shuffled per epoch, fresh noise, warm-up) and the test batcher (in
/// order, fixed noise and latent draws).
fn build_batchers(
    cfg: &RunConfig,
    (train_set, test_set): &(Arc<Samples>, Arc<Samples>),
    placement: Placement,
    done: usize,
) -> (SampleBatcher, SampleBatcher) {
    let (fresh, fixed) = match cfg.noise {
        Some(n) => (Corruption::Fresh(n), Corruption::Fixed(n)),
        None => (Corruption::None, Corruption::None),
    };
    let train = SampleBatcher::new(train_set.clone(), cfg.seed)
        .with_corruption(fresh)
        .with_placement(placement)
        .for_training(
            batches_per_epoch(cfg, train_set),
            cfg.network.warmup_epochs(),
            done,
        );
    let test = SampleBatcher::new(test_set.clone(), test_seed(cfg))
        .with_corruption(fixed)
        .with_latent_noise(test_latent_noise(cfg))
        .with_placement(placement);
    (train, test)
}

fn batches_per_epoch(cfg: &RunConfig, train_set: &Samples) -> usize {
    train_set.len().div_ceil(cfg.batch_size)
}

/// What Burn's Learner hands back, in our terms.
struct Trained {
    /// The weights of the last step, without autodiff.
    model: Autoencoder,
    /// Why training stopped before its last epoch, if it did.
    interrupted: Option<String>,
    /// The epoch record, as `metrics.csv` holds it.
    log: EpochLog,
}

/// Burn's Learner with our metrics, checkpoints and renderer, launched.
fn run_training(
    cfg: &RunConfig,
    opts: &TrainOptions,
    opened: &OpenedRun,
    model: Autoencoder,
    (train_batcher, test_batcher): (SampleBatcher, SampleBatcher),
    (train_set, test_set): &(Arc<Samples>, Arc<Samples>),
    (ad, device): (&Device, &Device),
) -> Result<Trained> {
    let (run, done, log) = (&opened.run, opened.done, &opened.log);
    // In order: the batcher shuffles, so that an epoch's order depends on the epoch alone.
    // Burn's batcher reserves a whole batch up front: never more than the set holds.
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(cfg.batch_size.min(train_set.len()))
        .set_device(ad.clone())
        .build(SampleIndices::of(train_set));
    let test_loader = DataLoaderBuilder::new(test_batcher)
        .batch_size(cfg.batch_size.min(test_set.len()))
        .set_device(device.clone())
        .build(SampleIndices::of(test_set));

    // Burn's Adam, its step one pass per parameter on the CPU backends (`--kernels ours`).
    let optimizer = FusedAdam::init(cfg.adam_eps as f32);
    let learner = Learner::new(model, optimizer, cfg.lr);
    let training = SupervisedTraining::new(&run.path, train_loader, test_loader);
    let guard = NonFiniteGuard::new(
        training.interrupter(),
        log.clone(),
        batches_per_epoch(cfg, train_set),
    );
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
        bail!("training stopped: {what}; {}", last_good(cfg, run));
    }
    if let Some(e) = log.write_error() {
        bail!("{e}");
    }
    Ok(Trained {
        model: result.model.valid(),
        interrupted: result
            .interrupted
            .map(|i| i.reason.unwrap_or_else(|| "interrupted".into())),
        log: log.clone(),
    })
}

/// Saves the weights, draws the run's pictures, checks the reported test loss against flex's
/// evaluation of the saved weights, and says how the run ended.
fn finish(
    cfg: &RunConfig,
    opts: &TrainOptions,
    resolved: backend::Resolved,
    opened: OpenedRun,
    trained: Trained,
    (train_set, test_set): &(Arc<Samples>, Arc<Samples>),
    load_seconds: f64,
) -> Result<TrainReport> {
    let run = opened.run;
    run.save_weights(&trained.model)?;
    let session = Session::new(
        run.clone(),
        cfg.clone(),
        trained.model,
        resolved.device,
        opts.data_dir.clone(),
    );
    report::after_training(&session, train_set, test_set)?;

    let epochs = trained.log.rows();
    // A backend that computes a wrong figure is said, not printed silently.
    let reference = eval::reference_loss(&run, test_set)?;
    let test_loss = match epochs.last().and_then(|r| r.test.get(LOSS)) {
        Some(&reported) if trained.interrupted.is_none() => {
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
    if let Some(reason) = &trained.interrupted {
        eprintln!(
            "training stopped early ({reason}); the weights of the last finished step were saved"
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
