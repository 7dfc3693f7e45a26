//! Training speed per model, backend and batch size, and the cost of loading MNIST.
//!
//!     AE_DATA_DIR=../shared/datasets cargo bench --bench speed
//!     cargo bench --bench speed -- --models conv-ae,vae --backends flex,wgpu --batches 128,256,1024
//!
//! Prints a Markdown table: milliseconds per training step (batch, forward, backward, Adam),
//! steps and images per second, and the seconds one epoch of the 60 000 MNIST training images
//! takes at that rate. `--help` lists the options.

use ae_data::{DatasetName, Samples, Sources, Split};
use anyhow::{Context, Result, bail};
use autoencoders::backend::{BackendChoice, KernelsArg};
use autoencoders::config::ModelName;
use autoencoders::input::resident::Placement;
use autoencoders::speed::{self, Case, Settings};
use autoencoders::train::cli::ArchArg;
use clap::ValueEnum;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const HELP: &str = "\
speed: times training steps on real MNIST and prints a Markdown table

usage: cargo bench --bench speed -- [options]

options:
  --models LIST     models to time (default: dense-ae,deep-ae,conv-ae,vae,sparse-ae,
                    denoising-ae,linear-ae); `all` means these seven
  --arch ARCH       the body `train --arch` gives: conv, dense or wide, for every model timed
                    (conv-ae, denoising-ae, vae; e.g. --models vae --arch conv)
  --backends LIST   flex, ndarray, wgpu, auto (default: auto, i.e. wgpu on a GPU, else flex)
  --batches LIST    batch sizes (default: each model's own, as `train` uses)
  --kernels LIST    ours, burn: ae-kernels' ops or Burn's layers, as `train --kernels` (default:
                    ours); `ours,burn` times both, side by side
  --without LIST    ops of ours left to Burn's layers all the same, to time one op's kernels
                    against Burn's in one build: pool, conv, conv-transpose, bce, unpack,
                    linear, gaussian, adam-group (wgpu), adam (flex, ndarray); e.g. --without
                    linear
  --unit-block N    the block one unit of our wgpu kernels takes where they may choose (the dense
                    layer's rows; the convolution's channels, output channels forward and input
                    channels in the input gradient): 1, 2, 4 or 8 (default: chosen by the
                    device; 8 on a software adapter), to time each on a GPU
  --seconds S       time each case for at least S seconds (default 3)
  --steps N         time at least N steps (default 5), however short --seconds is
  --warmup N        untimed steps first (default 3; GPUs compile and tune kernels then)
  --read-every N    read the loss back every N steps, as the dashboard's metrics do (default 0:
                    once at the end)
  --dry-run         time the host's side only (wgpu): after the warm-up every launch is
                    compiled and dropped, so ms/step is what building, fusing and issuing a step
                    costs the CPU, the floor under a step on any GPU (the loss is not checked)
  --ops             count the operations each timed step hands Burn's fusion server (wgpu), by
                    kind: each costs its thread bookkeeping, launch or not
  --data host|device
                    where batches are gathered (default: on the device for GPU backends, in
                    host memory for CPU ones, as `train` does)
  --no-load         skip timing the loading of MNIST
  --data-dir DIR    where mnist/ is (default: $AE_DATA_DIR, then the usual places)
";

struct Options {
    models: Vec<ModelName>,
    backends: Vec<BackendChoice>,
    batches: Option<Vec<usize>>,
    kernels: Vec<KernelsArg>,
    without: ae_kernels::OpSet,
    arch: Option<ArchArg>,
    settings: Settings,
    load: bool,
    data_dir: Option<std::path::PathBuf>,
}

const DEFAULT_MODELS: [ModelName; 7] = [
    ModelName::DenseAe,
    ModelName::DeepAe,
    ModelName::ConvAe,
    ModelName::Vae,
    ModelName::SparseAe,
    ModelName::DenoisingAe,
    ModelName::LinearAe,
];

fn list<T>(value: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    value.split(',').map(|v| parse(v.trim())).collect()
}

fn model(name: &str) -> Result<ModelName> {
    DEFAULT_MODELS
        .into_iter()
        .find(|m| m.as_str() == name)
        .with_context(|| {
            let names: Vec<&str> = DEFAULT_MODELS.iter().map(|m| m.as_str()).collect();
            format!(
                "unknown model '{name}' (MNIST models: {})",
                names.join(", ")
            )
        })
}

fn positive(what: &str, value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{what} must be a whole number above 0, not '{value}'"),
    }
}

/// `None` when --help was asked for.
fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        models: DEFAULT_MODELS.to_vec(),
        backends: vec![BackendChoice::Auto],
        batches: None,
        kernels: vec![KernelsArg::Ours],
        without: ae_kernels::OpSet::default(),
        arch: None,
        settings: Settings::default(),
        load: true,
        data_dir: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            "--models" => {
                let v = value(arg)?;
                if v != "all" {
                    o.models = list(&v, model)?;
                }
            }
            "--arch" => {
                let v = value(arg)?;
                o.arch = Some(
                    ArchArg::from_str(&v, false)
                        .map_err(|_| anyhow::anyhow!("--arch is conv, dense or wide, not '{v}'"))?,
                )
            }
            "--backends" => o.backends = list(&value(arg)?, BackendChoice::parse)?,
            "--kernels" => o.kernels = list(&value(arg)?, KernelsArg::parse)?,
            "--without" => {
                o.without = ae_kernels::OpSet::parse(&value(arg)?).map_err(anyhow::Error::msg)?
            }
            "--unit-block" => {
                let block = positive("--unit-block", &value(arg)?)?;
                ae_kernels::set_unit_block(Some(block)).map_err(anyhow::Error::msg)?
            }
            "--batches" => o.batches = Some(list(&value(arg)?, |v| positive("a batch size", v))?),
            "--seconds" => {
                let v = value(arg)?;
                let s: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s >= 0.0 && s.is_finite())
                    .with_context(|| format!("--seconds must be a number of seconds, not '{v}'"))?;
                o.settings.min_time = Duration::from_secs_f64(s);
            }
            "--steps" => o.settings.min_steps = positive("--steps", &value(arg)?)?,
            "--warmup" => o.settings.warmup_steps = value(arg)?.parse().context("--warmup")?,
            "--read-every" => {
                o.settings.read_every = value(arg)?.parse().context("--read-every")?
            }
            "--data" => {
                o.settings.placement = Some(match value(arg)?.as_str() {
                    "host" => Placement::Host,
                    "device" => Placement::for_backend(autoencoders::backend::BackendChoice::Wgpu),
                    other => bail!("--data is host or device, not '{other}'"),
                })
            }
            "--dry-run" => o.settings.dry_run = true,
            "--ops" => o.settings.count_ops = true,
            "--no-load" => o.load = false,
            "--data-dir" => o.data_dir = Some(value(arg)?.into()),
            other => bail!("unknown option '{other}' (see --help)"),
        }
    }
    Ok(Some(o))
}

fn run(o: Options) -> Result<()> {
    // A body that some model does not take is refused before anything is timed.
    for &model in &o.models {
        let batch = model.default_config().batch_size;
        speed::case_config(&Case {
            model,
            backend: BackendChoice::Auto,
            batch,
            kernels: KernelsArg::Ours,
            without: o.without,
            arch: o.arch,
        })?;
    }
    let sources = Sources::from_env(o.data_dir.clone());
    let load = |split| Ok::<_, anyhow::Error>(ae_data::load(DatasetName::Mnist, split, &sources)?);
    if o.load {
        let train = speed::time_loading(5, || load(Split::Train))?;
        let test = speed::time_loading(5, || load(Split::Test))?;
        println!("## Loading MNIST (gunzip + parse, median of 5)\n");
        println!("| split | images | seconds |\n|---|---|---|");
        println!("| train | 60000 | {:.3} |", speed::median(&train));
        println!("| test | 10000 | {:.3} |\n", speed::median(&test));
    }
    let set = Arc::new(Samples::Images(load(Split::Train)?));
    println!("## Training steps (real MNIST, Adam, batches made as in `train`)\n");
    let mut timings = Vec::new();
    for &backend in &o.backends {
        for &model in &o.models {
            let batches = match &o.batches {
                Some(b) => b.clone(),
                None => vec![model.default_config().batch_size],
            };
            for (batch, &kernels) in batches
                .iter()
                .flat_map(|&b| o.kernels.iter().map(move |k| (b, k)))
            {
                let case = Case {
                    model,
                    backend,
                    batch,
                    kernels,
                    without: o.without,
                    arch: o.arch,
                };
                eprintln!(
                    "timing {} on {} at batch {batch}, kernels {} ...",
                    case.model_label(),
                    backend.as_str(),
                    case.kernels_label()
                );
                let t = speed::time_case(&case, set.clone(), &o.settings)?;
                if !o.settings.dry_run && !t.last_loss.is_finite() {
                    bail!(
                        "{}: the loss is {} after {} steps",
                        case.model_label(),
                        t.last_loss,
                        t.steps
                    );
                }
                eprintln!(
                    "  {:.2} ms/step over {} steps ({})",
                    t.ms_per_step(),
                    t.steps,
                    t.device
                );
                timings.push(t);
            }
        }
    }
    print!("{}", speed::table(&timings, set.len()));
    if o.settings.count_ops {
        for t in &timings {
            print!("{}", speed::ops_table(t));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    autoencoders::tune_allocator();
    autoencoders::flush_subnormals();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(None) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Some(o)) => match autoencoders::on_compute_pool(|| run(o)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => autoencoders::report_error(&e),
        },
        Err(e) => autoencoders::report_error(&e),
    }
}
