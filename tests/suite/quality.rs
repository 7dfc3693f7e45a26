//! Quality on real MNIST, a short budget per model on the CPU with loose bounds, so that
//! regressions show (the full-budget figures against the anchors are in RESULTS.md). Needs
//! `AE_DATA_DIR`; CI sets it, so there these tests always run.

use crate::cli::{assert_success, last_test_loss, last_value, text};
use crate::common::temp_dir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real data folder, or `None` (with a note) outside CI when it is not set.
fn data_dir(test: &str) -> Option<std::ffi::OsString> {
    let dir = std::env::var_os("AE_DATA_DIR");
    if dir.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must set AE_DATA_DIR");
        eprintln!("NOTE: {test} left out: AE_DATA_DIR is not set");
    }
    dir
}

/// Trains `model` on real MNIST with `args` on flex; returns the run folder.
fn train_real(data: &std::ffi::OsStr, model: &str, name: &str, args: &[&str]) -> PathBuf {
    let out = temp_dir(&format!("quality-{name}")).join(model);
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args([model, "--backend", "flex", "--no-dashboard", "--out"])
        .arg(&out)
        .args(args)
        .env("AE_DATA_DIR", data)
        .output()
        .unwrap();
    assert_success(&o);
    eprintln!(
        "QUALITY {model} {args:?}, flex, real MNIST: {}",
        text(&o.stdout).trim()
    );
    out
}

fn below(out: &Path, column: &str, bound: f64, what: &str) {
    let v = last_value(out, column);
    assert!(v < bound, "{what}: {column} is {v:.4}, bound {bound}");
}

#[test]
fn conv_ae_reaches_its_bound_after_one_epoch_on_real_mnist() {
    let Some(data) = data_dir("conv-ae quality") else {
        return;
    };
    let out = train_real(&data, "conv-ae", "conv", &["--epochs", "1"]);
    let loss = last_test_loss(&out);
    assert!(
        loss < 0.17,
        "conv-ae test BCE after 1 epoch is {loss:.4}, bound 0.17"
    );
}

#[test]
fn every_other_model_reaches_its_bound_after_one_epoch_on_real_mnist() {
    let Some(data) = data_dir("model-family quality") else {
        return;
    };
    // (model, flags, bound on the test loss after 1 epoch); measured values in RESULTS.md.
    let cases: [(&str, &[&str], f64); 5] = [
        ("dense-ae", &[], 0.23),
        ("deep-ae", &[], 0.26),
        ("vae", &[], 140.0),
        ("denoising-ae", &["--arch", "dense"], 0.25),
        ("linear-ae", &[], 0.04),
    ];
    for (model, flags, bound) in cases {
        let mut args = vec!["--epochs", "1"];
        args.extend_from_slice(flags);
        let out = train_real(&data, model, model, &args);
        below(&out, "test_loss", bound, model);
    }
    // The sparse autoencoder: its code is already sparse after one epoch.
    let out = train_real(&data, "sparse-ae", "sparse", &["--epochs", "1"]);
    below(&out, "test_code_mean", 0.08, "sparse-ae");
    below(&out, "test_reconstruction", 0.56, "sparse-ae");
}

#[test]
fn linear_ae_lands_within_one_percent_of_pca_on_a_real_subset() {
    let Some(data) = data_dir("linear-ae vs PCA") else {
        return;
    };
    let args = [
        "--limit",
        "2000",
        "--test-limit",
        "1000",
        "--batch-size",
        "64",
        "--epochs",
        "200",
    ];
    let out = train_real(&data, "linear-ae", "pca", &args);
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pca.json")).unwrap()).unwrap();
    let f = |k: &str| p[k].as_f64().unwrap();
    let ratio = f("train_mse") / f("train_mse_pca");
    assert!(
        ratio <= 1.01,
        "linear-ae MSE is {ratio:.4}x PCA's on its training subset: {p}"
    );
    assert!(
        f("test_mse") / f("test_mse_pca") <= 1.01,
        "on the test subset: {p}"
    );
}
