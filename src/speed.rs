//! Training speed, measured the way the Learner trains: batches made by the training batcher
//! (epoch order, noise), the model's train step (forward, loss, backward), and Adam's update,
//! step after step, with the loss read back from the device as often as asked.
//!
//! `benches/speed.rs` turns these into the table in the README; the figures are steps per
//! second, images per second, and the seconds a training epoch of the set takes at that rate.

use crate::backend::read_f32;
use crate::backend::{self, BackendChoice, KernelsArg};
use crate::config::{ModelName, RunConfig};
use crate::input::batch::{Corruption, SampleBatcher};
use crate::input::resident::Placement;
use crate::train::cli::ArchArg;
use crate::train::overrides;
use ae_data::Samples;
use ae_kernels::OpSet;
use ae_kernels::adam::FusedAdam;
use ae_models::Autoencoder;
use anyhow::{Result, bail};
use burn::prelude::*;
use burn::train::Learner;
use clap::ValueEnum;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod ops;

/// One thing to time: a model (its built-in configuration), a backend, a batch size and the
/// layers' kernels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Case {
    /// The model, as `train <model>` builds it.
    pub model: ModelName,
    /// Where tensors live.
    pub backend: BackendChoice,
    /// Images per step.
    pub batch: usize,
    /// ae-kernels' ops or Burn's layers (`--kernels`), chosen for the process while it runs.
    pub kernels: KernelsArg,
    /// The ops left to Burn's layers all the same ([`ae_kernels::set_without`]).
    pub without: OpSet,
    /// The body `train --arch` would give the model (`None`: its own).
    pub arch: Option<ArchArg>,
}

impl Case {
    /// The model in words: `conv-ae`, or `vae --arch conv`.
    pub fn model_label(&self) -> String {
        match self.arch.and_then(|a| a.to_possible_value()) {
            Some(arch) => format!("{} --arch {}", self.model, arch.get_name()),
            None => self.model.to_string(),
        }
    }

    /// The kernels in words: `ours`, `burn`, or `ours without linear,gaussian`.
    pub fn kernels_label(&self) -> String {
        match (self.kernels, self.without == OpSet::default()) {
            (KernelsArg::Ours, false) => format!("ours without {}", self.without),
            (k, _) => k.as_str().to_string(),
        }
    }
}

/// How to time a case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Untimed steps first (kernel compilation, autotuning, allocator warm-up).
    pub warmup_steps: usize,
    /// Time at least this many steps...
    pub min_steps: usize,
    /// ...and keep stepping until this much time has passed.
    pub min_time: Duration,
    /// Read the loss back every this many steps (0: only once, at the end), as a metric does.
    pub read_every: usize,
    /// Where the batcher keeps the data set (`None`: where `train` keeps it on this backend).
    pub placement: Option<Placement>,
    /// Time the host's side only (wgpu, CUDA): after the warm-up, every launch is compiled and
    /// dropped (CubeCL's [`cubecl::dry_run::DryRun`]), so a step's time is what building,
    /// fusing and issuing it costs the CPU, the floor under a step on any GPU. The loss is
    /// then meaningless and not reported.
    pub dry_run: bool,
    /// Count the operations the timed steps hand Burn's fusion server, by kind
    /// ([`ops::OpCounter`]; wgpu, CUDA).
    pub count_ops: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            warmup_steps: 3,
            min_steps: 5,
            min_time: Duration::from_secs(3),
            read_every: 0,
            placement: None,
            dry_run: false,
            count_ops: false,
        }
    }
}

/// What timing a case found.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// What was timed.
    pub case: Case,
    /// The backend that ran (never `Auto`) and what it ran on.
    pub device: String,
    /// Steps timed.
    pub steps: usize,
    /// Wall time of those steps, in seconds, from the first batch to the last loss read.
    pub seconds: f64,
    /// The loss of the last step (a finite number shows the steps really trained; NaN after
    /// a dry run, whose launches ran nothing).
    pub last_loss: f32,
    /// With [`Settings::count_ops`], the operations the timed steps registered, by kind, the
    /// most frequent first (totals over `steps`).
    pub ops: Vec<(String, usize)>,
}

impl Timing {
    /// Milliseconds per step.
    pub fn ms_per_step(&self) -> f64 {
        1e3 * self.seconds / self.steps as f64
    }

    /// Steps per second.
    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.seconds
    }

    /// Images per second.
    pub fn images_per_second(&self) -> f64 {
        self.steps_per_second() * self.case.batch as f64
    }

    /// Seconds a training epoch over `samples` images takes at this rate (the last batch may
    /// be short, so the count of steps is rounded up).
    pub fn epoch_seconds(&self, samples: usize) -> f64 {
        samples.div_ceil(self.case.batch) as f64 * self.seconds / self.steps as f64
    }
}

/// The run configuration a case trains: the model's built-in one with the case's body
/// (`--arch`) and batch size.
pub fn case_config(case: &Case) -> Result<RunConfig> {
    let mut cfg = case.model.default_config();
    if let Some(arch) = case.arch {
        overrides::set_arch(&mut cfg, arch)?;
    }
    cfg.batch_size = case.batch;
    Ok(cfg)
}

/// Times training steps of `case` on `set` (its training split).
pub fn time_case(case: &Case, set: Arc<Samples>, settings: &Settings) -> Result<Timing> {
    time_config(case, &case_config(case)?, set, settings)
}

/// Times training steps of the model `cfg` describes (its batch size is the case's).
pub fn time_config(
    case: &Case,
    cfg: &RunConfig,
    set: Arc<Samples>,
    settings: &Settings,
) -> Result<Timing> {
    if case.batch == 0 || set.is_empty() {
        bail!(
            "nothing to time: batch {} of {} samples",
            case.batch,
            set.len()
        );
    }
    case.kernels.apply();
    ae_kernels::set_without(case.without);
    let resolved = backend::resolve(case.backend)?;
    let gpu = matches!(resolved.backend, BackendChoice::Wgpu | BackendChoice::Cuda);
    if (settings.dry_run || settings.count_ops) && !gpu {
        bail!(
            "a dry run and the count of fusion's operations are for GPU backends; {} runs \
             every op on the CPU, without fusion",
            resolved.backend.as_str()
        );
    }
    let ad = resolved.device.clone().autodiff();
    ad.seed(cfg.seed);
    let model = Autoencoder::new(&cfg.network, cfg.loss, set.shape(), &ad)?;
    let per_epoch = set.len().div_ceil(case.batch);
    let corruption = cfg.noise.map_or(Corruption::None, Corruption::Fresh);
    let placement = settings
        .placement
        .unwrap_or(Placement::for_backend(resolved.backend));
    let batcher = SampleBatcher::new(set.clone(), cfg.seed)
        .with_corruption(corruption)
        .with_placement(placement)
        .for_training(per_epoch, cfg.network.warmup_epochs(), 0);
    if let Err(e) = batcher.keep_on(&ad) {
        eprintln!("  batches made on the host: {e:#}");
    }
    let mut learner = Learner::new(model, FusedAdam::init(cfg.adam_eps as f32), cfg.lr);

    let mut step = 0usize;
    let mut run_step = |learner: &mut Learner<Autoencoder>| -> Tensor<1> {
        let start = (step % per_epoch) * case.batch;
        let positions: Vec<usize> = (start..(start + case.batch).min(set.len())).collect();
        step += 1;
        let batch = burn::data::dataloader::batcher::Batcher::batch(&batcher, positions, &ad);
        let out = learner.train_step(batch);
        learner.optimizer_step(out.grads);
        learner.lr_step();
        out.item.loss.total
    };

    let mut loss = None;
    for _ in 0..settings.warmup_steps {
        loss = Some(run_step(&mut learner));
    }
    if let Some(l) = loss.take() {
        read_f32(l, "the loss")?;
    }
    let dry_run = settings.dry_run.then(cubecl::dry_run::DryRun::new);
    let counter = settings.count_ops.then(ops::OpCounter::start);
    let started = Instant::now();
    let mut steps = 0;
    let mut last = f32::NAN;
    while steps < settings.min_steps.max(1) || started.elapsed() < settings.min_time {
        let l = run_step(&mut learner);
        steps += 1;
        if settings.read_every > 0 && steps % settings.read_every == 0 {
            last = read_f32(l, "the loss")?[0];
        } else {
            loss = Some(l);
        }
    }
    if let Some(l) = loss {
        last = read_f32(l, "the loss")?[0];
    }
    let seconds = started.elapsed().as_secs_f64();
    let ops = counter.map(ops::OpCounter::finish).unwrap_or_default();
    if dry_run.is_some() {
        last = f32::NAN;
    }
    Ok(Timing {
        case: *case,
        device: short_device(&resolved.note),
        steps,
        seconds,
        last_loss: last,
        ops,
    })
}

/// The backend line without its prefix and advice: `wgpu on llvmpipe (..) (Vulkan), software`.
fn short_device(note: &str) -> String {
    let note = note.trim_start_matches("backend: ");
    match note.find(", a SOFTWARE renderer") {
        Some(i) => format!("{}, software", &note[..i]),
        None => note.to_string(),
    }
}

/// Times loading a split with `load`, `repeats` times; returns the seconds of each.
pub fn time_loading<T>(repeats: usize, mut load: impl FnMut() -> Result<T>) -> Result<Vec<f64>> {
    (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            load()?;
            Ok(started.elapsed().as_secs_f64())
        })
        .collect()
}

/// The median of `values` (NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The table of `timings` in Markdown: one row per case, epoch seconds for `samples` images.
pub fn table(timings: &[Timing], samples: usize) -> String {
    let mut out = format!(
        "| model | backend | kernels | batch | ms/step | steps/s | images/s | s/epoch ({samples}) | steps |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    for t in timings {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.1} | {:.0} | {:.2} | {} |\n",
            t.case.model_label(),
            t.device,
            t.case.kernels_label(),
            t.case.batch,
            t.ms_per_step(),
            t.steps_per_second(),
            t.images_per_second(),
            t.epoch_seconds(samples),
            t.steps
        ));
    }
    out
}

/// [`Timing::ops`] per step, as Markdown: the total, then each kind.
pub fn ops_table(t: &Timing) -> String {
    let per_step = |n: usize| n as f64 / t.steps.max(1) as f64;
    let total: usize = t.ops.iter().map(|(_, n)| n).sum();
    let mut out = format!(
        "\n{} at batch {}, kernels {}: {:.1} operations a step\n\n| operation | a step |\n|---|---|\n",
        t.case.model_label(),
        t.case.batch,
        t.case.kernels_label(),
        per_step(total)
    );
    for (kind, n) in &t.ops {
        out.push_str(&format!("| {kind} | {:.1} |\n", per_step(*n)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_from_steps_and_seconds() {
        let t = Timing {
            case: Case {
                model: ModelName::DenseAe,
                backend: BackendChoice::Flex,
                batch: 256,
                kernels: KernelsArg::Ours,
                without: OpSet::default(),
                arch: None,
            },
            device: "flex".into(),
            steps: 20,
            seconds: 0.5,
            last_loss: 0.3,
            ops: Vec::new(),
        };
        assert!((t.ms_per_step() - 25.0).abs() < 1e-9);
        assert!((t.steps_per_second() - 40.0).abs() < 1e-9);
        assert!((t.images_per_second() - 10_240.0).abs() < 1e-6);
        // 60 000 images at 256 a step: 235 steps, the last one short.
        assert!((t.epoch_seconds(60_000) - 235.0 * 0.025).abs() < 1e-9);
        let mut without = t.clone();
        without.case.without = OpSet::parse("linear,adam").unwrap();
        let table = table(&[t, without], 60_000);
        assert!(
            table.contains("| dense-ae | flex | ours | 256 | 25.00 | 40.0 | 10240 | 5.88 | 20 |")
        );
        assert!(
            table.contains("| ours without linear,adam | 256 |"),
            "{table}"
        );
    }

    #[test]
    fn a_case_s_arch_is_train_s_and_named_in_the_table() {
        let case = |model, arch| Case {
            model,
            backend: BackendChoice::Flex,
            batch: 32,
            kernels: KernelsArg::Ours,
            without: OpSet::default(),
            arch,
        };
        let conv_vae = case(ModelName::Vae, Some(ArchArg::Conv));
        let cfg = case_config(&conv_vae).unwrap();
        assert!(
            matches!(&cfg.network, ae_models::NetworkConfig::Vae(v)
                if matches!(v.arch, ae_models::VaeArch::Conv(_))),
            "{:?}",
            cfg.network
        );
        assert_eq!(cfg.batch_size, 32);
        assert_eq!(conv_vae.model_label(), "vae --arch conv");
        assert_eq!(case(ModelName::ConvAe, None).model_label(), "conv-ae");
        let wide = case_config(&case(ModelName::ConvAe, Some(ArchArg::Wide))).unwrap();
        assert!(matches!(
            wide.network,
            ae_models::NetworkConfig::ConvWide(_)
        ));
        // train's own refusal, word for word.
        let err = case_config(&case(ModelName::DenseAe, Some(ArchArg::Conv))).unwrap_err();
        assert!(err.to_string().contains("--arch applies to"), "{err}");
    }

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn timing_a_case_trains_for_real() {
        let set = Arc::new(Samples::Vectors(ae_data::synthetic::plane3d(64, 1)));
        let mut case = Case {
            model: ModelName::LinearAe,
            backend: BackendChoice::Flex,
            batch: 16,
            kernels: KernelsArg::Ours,
            without: OpSet::default(),
            arch: None,
        };
        // The built-in linear-ae is 784 wide and says so; a 3-2-3 one learns the plane.
        let settings = |steps| Settings {
            warmup_steps: 0,
            min_steps: steps,
            min_time: Duration::ZERO,
            read_every: 2,
            placement: None,
            dry_run: false,
            count_ops: false,
        };
        let err = time_case(&case, set.clone(), &settings(1)).unwrap_err();
        assert!(format!("{err:#}").contains("784"), "{err:#}");
        let mut cfg = case_config(&case).unwrap();
        let dense = cfg.network.dense_mut().unwrap();
        (dense.input_dim, dense.latent_dim) = (3, 2);
        cfg.lr = 0.01;
        let first = time_config(&case, &cfg, set.clone(), &settings(1)).unwrap();
        let later = time_config(&case, &cfg, set.clone(), &settings(200)).unwrap();
        assert_eq!((first.steps, later.steps), (1, 200));
        assert!(
            later.seconds > 0.0 && later.device.starts_with("flex"),
            "{later:?}"
        );
        assert!(
            later.last_loss < first.last_loss / 4.0,
            "{} -> {}",
            first.last_loss,
            later.last_loss
        );
        // A dry run and the operations' count are refused on a CPU backend, with the reason.
        for (dry_run, count_ops) in [(true, false), (false, true)] {
            let cpu = Settings {
                dry_run,
                count_ops,
                ..settings(1)
            };
            let err = time_config(&case, &cfg, set.clone(), &cpu).unwrap_err();
            assert!(err.to_string().contains("for GPU backends; flex"), "{err}");
        }
        case.batch = 0;
        assert!(time_case(&case, set, &settings(1)).is_err());
    }

    #[test]
    fn the_operations_table_gives_each_kind_per_step() {
        let t = Timing {
            case: Case {
                model: ModelName::ConvAe,
                backend: BackendChoice::Wgpu,
                batch: 128,
                kernels: KernelsArg::Ours,
                without: OpSet::default(),
                arch: None,
            },
            device: "wgpu".into(),
            steps: 4,
            seconds: 1.0,
            last_loss: f32::NAN,
            ops: vec![("Drop".into(), 10), ("Custom adam4".into(), 4)],
        };
        let table = ops_table(&t);
        assert!(
            table.contains("conv-ae at batch 128, kernels ours: 3.5 operations a step"),
            "{table}"
        );
        assert!(
            table.contains("| Drop | 2.5 |\n| Custom adam4 | 1.0 |"),
            "{table}"
        );
    }
}
