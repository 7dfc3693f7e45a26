//! The `train` command end to end: run folders, quiet progress, determinism, and bad input.

use crate::backend_test;
use crate::common::{temp_dir, tiny_dataset};
use std::path::Path;
use std::process::{Command, Output};

/// Runs `train` with `args`, with no data set in the environment.
pub fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .env_remove("AE_DATA_DIR")
        .env("AE_DATA_MIRROR", "http://127.0.0.1:9")
        .output()
        .expect("the train binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The value of `column` in the last epoch of a run folder's metrics.csv.
pub fn last_value(out: &Path, column: &str) -> f64 {
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    last[col].parse().unwrap()
}

/// The test loss of the last epoch in a run folder's metrics.csv.
pub fn last_test_loss(out: &Path) -> f64 {
    last_value(out, "test_loss")
}

pub fn quick_run(
    backend: &str,
    model: &str,
    name: &str,
    extra: &[&str],
) -> (Output, std::path::PathBuf) {
    let root = temp_dir(name);
    let data = tiny_dataset(&root, 160, 40);
    let out = root.join("run");
    let mut args = vec![
        model,
        "--backend",
        backend,
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--no-dashboard",
    ];
    args.extend_from_slice(extra);
    (train(&args), out)
}

pub fn assert_success(o: &Output) {
    assert!(
        o.status.success(),
        "train failed:\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

backend_test!(fn train_writes_a_complete_run_folder(backend) {
    let (o, out) = quick_run(backend.as_str(), "dense-ae", &format!("run-{}", backend.as_str()), &[]);
    assert_success(&o);
    let stdout = text(&o.stdout);
    // One quiet line per epoch and a summary, not one per batch.
    assert!(stdout.contains("epoch 1/2  train loss") && stdout.contains("epoch 2/2"), "{stdout}");
    assert!(stdout.lines().count() <= 4, "too chatty:\n{stdout}");
    assert!(stdout.contains("test bce loss"), "{stdout}");

    let cfg = autoencoders::config::RunConfig::load(&out.join("config.json")).unwrap();
    assert_eq!((cfg.epochs, cfg.batch_size), (2, 32));
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("epoch,train_loss,test_loss,seconds"), "{csv}");
    assert!(last_test_loss(&out) > 0.0);

    let png = image::open(out.join("reconstructions.png")).unwrap();
    // 10 columns and 4 rows (originals, reconstructions, twice) of 84-pixel tiles, 2-pixel gaps.
    assert_eq!((png.width(), png.height()), (10 * 84 + 11 * 2, 4 * 84 + 5 * 2));
    let dev = autoencoders::backend::resolve(backend).unwrap().device;
    autoencoders::run_dir::RunDir::open(&out).load_model(&dev).unwrap();
});

backend_test!(fn the_same_seed_gives_the_same_test_loss(backend) {
    let b = backend.as_str();
    let (o1, out1) = quick_run(b, "dense-ae", &format!("seed-a-{b}"), &["--seed", "7"]);
    let (o2, out2) = quick_run(b, "dense-ae", &format!("seed-b-{b}"), &["--seed", "7"]);
    let (o3, out3) = quick_run(b, "dense-ae", &format!("seed-c-{b}"), &["--seed", "8"]);
    for o in [&o1, &o2, &o3] {
        assert_success(o);
    }
    let (l1, l2, l3) = (last_test_loss(&out1), last_test_loss(&out2), last_test_loss(&out3));
    let tolerance = if b == "wgpu" { 1e-4 } else { 1e-6 };
    assert!((l1 - l2).abs() <= tolerance, "same seed: {l1} vs {l2}");
    assert!((l1 - l3).abs() > tolerance, "another seed gave the very same loss {l1}");
});

#[test]
fn conv_ae_trains_end_to_end_on_the_cpu() {
    let (o, out) = quick_run("flex", "conv-ae", "conv-flex", &["--limit", "64"]);
    assert_success(&o);
    assert!(out.join("model.bpk").exists() && out.join("reconstructions.png").exists());
}

/// Runs `train` expecting failure: one `error:` line naming the problem, no panic.
fn fails_with(args: &[&str], code: i32, needle: &str) {
    let o = train(args);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected {needle:?} in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    if code == 1 {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "one error line: {stderr}");
    }
}

#[test]
fn bad_input_gives_one_clear_error_and_a_non_zero_exit() {
    let root = temp_dir("bad");
    let data = tiny_dataset(&root, 20, 10);
    let d = data.to_str().unwrap();
    let out = root.join("out");
    let o = out.to_str().unwrap();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["dense-ae", "--backend", "flex", "--data-dir", d, "--out", o]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str], code, needle| {
        let args = base(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&args, code, needle);
    };
    fails_with(&["vae-x"], 2, "invalid value 'vae-x'");
    fails_with(
        &["dense-ae", "--backend", "cuda"],
        2,
        "invalid value 'cuda'",
    );
    run(&["--batch-size", "0"], 1, "batch size must be at least 1");
    run(&["--epochs", "0"], 1, "epochs must be at least 1");
    run(&["--lr", "0"], 1, "learning rate must be a positive number");
    run(
        &["--lr", "-0.1"],
        1,
        "learning rate must be a positive number",
    );
    run(&["--latent-dim", "0"], 1, "latent_dim must be at least 1");
    run(&["--limit", "0"], 1, "--limit must be at least 1");
    run(
        &["--config", "/nonexistent/c.json"],
        1,
        "cannot read config file /nonexistent/c.json",
    );
    fails_with(
        &["conv-ae", "--latent-dim", "8", "--backend", "flex"],
        1,
        "--latent-dim, --hidden and --overcomplete apply to dense models",
    );
    fails_with(
        &[
            "dense-ae",
            "--backend",
            "flex",
            "--data-dir",
            "/nonexistent-data",
            "--out",
            o,
        ],
        1,
        "--data-dir /nonexistent-data: no mnist files",
    );
    run(
        &["--hidden", "12,x"],
        1,
        "--hidden 12,x: 'x' is not a width",
    );
    run(&["--latent-dim", "900"], 1, "pass --overcomplete");
    run(
        &["--noise", "gaussian"],
        1,
        "apply to denoising-ae, not dense-ae",
    );
    fails_with(
        &["sparse-ae", "--rho", "1.5", "--backend", "flex"],
        1,
        "rho must be strictly between 0 and 1",
    );
    fails_with(
        &["linear-ae", "--loss", "bce", "--backend", "flex"],
        1,
        "binary cross-entropy needs a sigmoid output",
    );
    let a_file = root.join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    fails_with(
        &[
            "dense-ae",
            "--backend",
            "flex",
            "--data-dir",
            d,
            "--out",
            a_file.to_str().unwrap(),
        ],
        1,
        "exists and is not a folder",
    );
    let wrong_model = root.join("conv.json");
    std::fs::write(
        &wrong_model,
        autoencoders::config::ModelName::ConvAe.default_config_text(),
    )
    .unwrap();
    run(
        &["--config", wrong_model.to_str().unwrap()],
        1,
        "configures conv-ae, not dense-ae",
    );

    // A finished run is not overwritten by accident.
    let ok = base(&["--epochs", "1", "--no-dashboard"]);
    let ok: Vec<&str> = ok.iter().map(String::as_str).collect();
    assert_success(&train(&ok));
    run(
        &["--epochs", "1", "--no-dashboard"],
        1,
        "already holds a run; pass --overwrite",
    );
    let mut again = ok.clone();
    again.push("--overwrite");
    assert_success(&train(&again));
}
