//! Runs that do not go to plan: killed mid-epoch and resumed (`--resume`), stopped by a NaN
//! loss, and the refusals around `--resume`.

use crate::bad_input::fails_with;
use crate::cli::{assert_success, text, train, train_args};
use crate::common::{temp_dir, tiny_dataset};
use autoencoders::config::RunConfig;
use autoencoders::train::epoch_log::{EpochRow, from_csv};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `train dense-ae` on flex over the data in `data`, into `out`, with `extra`.
fn args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = train_args("dense-ae", data, out, &["--batch-size", "32"]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(args: &[String]) -> std::process::Output {
    train(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The rows of a run folder's metrics.csv (none when it is not there yet).
fn rows(out: &Path) -> Vec<EpochRow> {
    std::fs::read_to_string(out.join("metrics.csv"))
        .map(|t| from_csv(&t, &["Loss"]).unwrap())
        .unwrap_or_default()
}

#[test]
fn a_run_killed_mid_epoch_resumes_to_the_same_test_loss() {
    let root = temp_dir("resume");
    // Enough made-up images for an epoch of several hundred steps, so a kill lands inside one.
    let data = tiny_dataset(&root, 20_000, 1_000);
    let epochs = ["--epochs", "3"];

    let whole = root.join("whole");
    assert_success(&run(&args(&data, &whole, &epochs)));

    let cut = root.join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args(&data, &cut, &epochs))
        .env_remove("AE_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for epoch 1 and its checkpoint, then kill a third of an epoch into epoch 2.
    let started = Instant::now();
    let first = loop {
        let done = rows(&cut);
        let ckpt = |part: &str| cut.join(format!("checkpoint/{part}-1.bpk")).exists();
        if done.len() == 1 && ["model", "optim", "scheduler"].iter().all(|p| ckpt(p)) {
            break done[0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "epoch 1 never finished"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_secs_f64(first.seconds / 3.0));
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    assert_eq!(rows(&cut).len(), 1, "killed after epoch 2 had ended");
    assert!(!cut.join("model.bpk").exists());
    let leftovers: Vec<String> = std::fs::read_dir(cut.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".bpk"))
        .collect();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");

    let resumed = run(&args(&data, &cut, &["--resume"]));
    assert_success(&resumed);
    let stderr = text(&resumed.stderr);
    assert!(stderr.contains("after epoch 1 of 3"), "{stderr}");
    let (a, b) = (rows(&whole), rows(&cut));
    assert_eq!(b.len(), 3, "{b:?}");
    for (x, y) in a.iter().zip(&b) {
        for split in [(&x.train, &y.train), (&x.test, &y.test)] {
            let (u, v) = (split.0["Loss"], split.1["Loss"]);
            assert!(
                (u - v).abs() <= 1e-7 * u.abs(),
                "epoch {}: {u} uninterrupted, {v} resumed",
                x.epoch
            );
        }
    }
    assert!(cut.join("model.bpk").exists() && cut.join("reconstructions.png").exists());
    // Finished: a second --resume has nothing to do.
    fails_with(
        &args(&data, &cut, &["--resume"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        1,
        "has finished all its 3 epochs; pass --epochs N (more than 3)",
    );
}

#[test]
fn a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let root = temp_dir("nan");
    let data = tiny_dataset(&root, 256, 64);

    // From the first steps: nothing to keep.
    let out = root.join("at-once");
    let o = run(&args(&data, &out, &["--epochs", "2", "--lr", "1e30"]));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("training stopped: the loss became "),
        "{stderr}"
    );
    assert!(stderr.contains(" at epoch 1, step "), "{stderr}");
    assert!(stderr.contains("no epoch had finished"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.join("model.bpk").exists(), "NaN weights were saved");

    // One good epoch, then a learning rate that blows up: stopped in epoch 2.
    let out = root.join("later");
    assert_success(&run(&args(&data, &out, &["--epochs", "1"])));
    let good = rows(&out)[0].test["Loss"];
    let o = run(&args(
        &data,
        &out,
        &["--resume", "--epochs", "3", "--lr", "1e30"],
    ));
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(" at epoch 2, step "), "{stderr}");
    let ckpt = out.join("checkpoint").join("model-1.bpk");
    assert!(
        stderr.contains(&format!("are in {}", ckpt.display())),
        "{stderr}"
    );
    assert!(!out.join("checkpoint").join("model-2.bpk").exists());

    // The checkpoint named loads, and is the model of epoch 1.
    let cfg = RunConfig::load(&out.join("config.json")).unwrap();
    let loss = checkpoint_test_loss(&cfg, &ckpt, &data);
    assert!(
        (loss - good).abs() < 1e-5,
        "checkpoint test loss {loss}, epoch 1 {good}"
    );

    // And the run goes on from it with a sane learning rate.
    let o = run(&args(
        &data,
        &out,
        &["--resume", "--epochs", "2", "--lr", "0.001"],
    ));
    assert_success(&o);
    let done = rows(&out);
    assert_eq!(done.len(), 2);
    assert!(done[1].test["Loss"].is_finite() && done[1].test["Loss"] < good);
}

/// The test loss of the weights in `file` (a dense-ae checkpoint) on the test images in `data`.
fn checkpoint_test_loss(cfg: &RunConfig, file: &Path, data: &Path) -> f64 {
    use burn::module::Module;
    let dev = burn::prelude::Device::flex();
    let model =
        ae_models::Autoencoder::new(&cfg.network, cfg.loss, cfg.sample_shape(), &dev).unwrap();
    let record = burn::store::ModuleRecord::load(file).unwrap();
    let model = model.try_load_record(record).unwrap();
    let (_, test) = autoencoders::input::data::load(cfg, Some(PathBuf::from(data))).unwrap();
    autoencoders::eval::evaluate(&model, &test, cfg, &dev).unwrap()
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let root = temp_dir("resume-refusals");
    let data = tiny_dataset(&root, 64, 16);
    let out = root.join("run");
    let with = |extra: &[&str]| args(&data, &out, extra);
    let fails = |extra: &[&str], code, needle| {
        let a = with(extra);
        fails_with(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            code,
            needle,
        );
    };
    fails(&["--resume"], 1, "holds no run to continue");
    assert_success(&run(&with(&["--epochs", "1"])));
    fails(
        &["--resume", "--epochs", "2", "--latent-dim", "8"],
        1,
        "only --epochs and --lr may change",
    );
    fails(&["--resume", "--overwrite"], 2, "cannot be used with");
    fails(
        &["--resume", "--config", "config/dense-ae.json"],
        1,
        "leave out --config",
    );
    let conv = ["conv-ae", "--backend", "flex", "--resume", "--out"];
    let mut a: Vec<&str> = conv.to_vec();
    let o = out.display().to_string();
    a.push(&o);
    fails_with(&a, 1, "holds a dense-ae run, not conv-ae");
    // A checkpoint that does not fit the model is named, not a panic.
    let mut cfg = RunConfig::load(&out.join("config.json")).unwrap();
    cfg.epochs = 2;
    let mut json: serde_json::Value = serde_json::from_str(&cfg.to_json()).unwrap();
    json["network"]["latent_dim"] = 16.into();
    std::fs::write(out.join("config.json"), json.to_string()).unwrap();
    fails(
        &["--resume"],
        1,
        "checkpoint/model-1.bpk does not fit the dense-ae",
    );
}
