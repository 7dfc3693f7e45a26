//! The `train` command end to end: run folders, quiet progress, determinism, and bad input.

use crate::backend_test;
use crate::common::{temp_dir, tiny_dataset};
use std::path::Path;
use std::process::{Command, Output};

/// Runs `train` with `args`, with no data set in the environment.
pub fn train(args: &[&str]) -> Output {
    train_in(args, None)
}

/// [`train`], with CubeCL's autotune picks kept in the environment `autotune` (a private
/// `target/environment/<name>.db`) when given. On wgpu, autotune picks each kernel by timing, and
/// kernels that sum in another order give other last digits; runs that must agree digit for
/// digit share one private environment, so the first tunes and the later ones reuse its picks,
/// whatever the processes of other tests tune meanwhile.
pub fn train_in(args: &[&str], autotune: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_train"));
    command
        .args(args)
        .env_remove("AE_DATA_DIR")
        .env("AE_DATA_MIRROR", "http://127.0.0.1:9");
    if let Some(name) = autotune {
        command.env("CUBECL_ENVIRONMENT", name);
    }
    command.output().expect("the train binary runs")
}

/// `<model> --backend flex --no-dashboard --data-dir <data> --out <out> <extra>`: the
/// arguments of a run on made-up data.
pub fn train_args(model: &str, data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [model, "--backend", "flex", "--no-dashboard", "--data-dir"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend([data.display().to_string(), "--out".into()]);
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Borrowed views of owned arguments.
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
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
        "--batch-size",
        "32",
        "--no-dashboard",
    ];
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"]);
    }
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
    assert!(csv.starts_with("epoch,train_loss,test_loss,train_seconds,seconds"), "{csv}");
    for line in csv.lines().skip(1) {
        let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        let [.., training, whole] = cells[..] else { panic!("{line}") };
        assert!(0.0 < training && training <= whole, "training {training} s of {whole} s: {csv}");
    }
    // The closing line gives the test loss of the last epoch in metrics.csv (4 decimals).
    let closing = stdout.lines().last().unwrap();
    let printed: f64 = closing
        .split("test bce loss ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no test loss in {closing}"));
    assert!((printed - last_test_loss(&out)).abs() <= 5e-5, "{closing} vs metrics.csv");

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
    let (o, out) = quick_run("flex", "conv-ae", "conv-flex", &["--epochs", "5"]);
    assert_success(&o);
    assert!(out.join("model.bpk").exists() && out.join("reconstructions.png").exists());
    // It learns: the test loss falls epoch after epoch.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let test: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(test.windows(2).all(|w| w[1] < w[0]), "test losses {test:?}");
    assert!(test[test.len() - 1] < 0.9 * test[0], "test losses {test:?}");
}

/// `train` with wgpu's Vulkan loader pointed at no driver at all: no adapter.
fn train_without_adapters(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train"))
        .args(args)
        .env_remove("AE_DATA_DIR")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .output()
        .expect("the train binary runs")
}

#[test]
fn wgpu_without_an_adapter_is_refused_and_auto_falls_back_to_flex() {
    let root = temp_dir("no-adapter");
    let data = tiny_dataset(&root, 64, 16);
    let out = root.join("run");
    let base = [
        "dense-ae",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "1",
        "--no-dashboard",
        "--backend",
    ];
    let o = train_without_adapters(&[&base[..], &["wgpu"]].concat());
    crate::bad_input::assert_fails(
        &o,
        "train --backend wgpu without an adapter",
        1,
        "no graphics adapter found",
    );
    assert!(!out.exists(), "a run folder was left behind");
    let o = train_without_adapters(&[&base[..], &["auto"]].concat());
    assert_success(&o);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(
            "backend: flex (CPU), the faster CPU backend (auto: no GPU adapter was found)"
        ),
        "{stderr}"
    );
}

backend_test!(fn a_set_the_device_cannot_keep_is_batched_on_the_host(backend) {
    // wgpu keeps image sets on the device; the one-hot toy set is not images, so the run says
    // it batches on the host, and trains.
    let out = temp_dir(&format!("host-batches-{}", backend.as_str())).join("run");
    let o = train(&[
        "binary-ae", "--backend", backend.as_str(), "--epochs", "1", "--no-dashboard", "--out",
        out.to_str().unwrap(),
    ]);
    assert_success(&o);
    let stderr = text(&o.stderr);
    let on_host = stderr.contains("batches are made on the host: ");
    assert_eq!(on_host, backend == BackendChoice::Wgpu, "{stderr}");
});
