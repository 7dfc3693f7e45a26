//! The figures the commands print are the same on every backend (issue 18): `train`'s test
//! loss against flex's evaluation of the weights it saved, and `ae reconstruct` and `ae ood`
//! on each backend against flex, for the convolutional models, where wgpu once went wrong.

use crate::backend_test;
use crate::cli::{assert_success, last_test_loss, text, train};
use crate::common::{temp_dir, tiny_dataset, write_images};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ae` with `args` and returns its standard output; fails the test if it fails.
fn ae(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env_remove("AE_DATA_DIR")
        .env("AE_DATA_MIRROR", "http://127.0.0.1:9")
        .output()
        .expect("the ae binary runs");
    assert!(
        o.status.success(),
        "ae {args:?} failed:\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// The number after `key` in `text`.
fn number_after(text: &str, key: &str) -> f64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {text}"));
    let rest = &text[at + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// A made-up MNIST and, for `ood`, a "fashion-mnist" of the same images inverted.
fn data(root: &Path) -> PathBuf {
    let data = tiny_dataset(root, 64, 24);
    write_images(&data.join("fashion-mnist"), 64, 24, |p| 255 - p);
    data
}

/// `ae ood`'s figures (the two mean errors and the AUC), as written to its JSON.
fn ood(run: &Path, data: &Path, backend: &str) -> [f64; 3] {
    let png = run.join(format!("ood-{backend}.png"));
    let args = ["ood", run.to_str().unwrap(), "--backend", backend];
    let data_args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ];
    ae(&[&args[..], &data_args[..]].concat());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(png.with_extension("json")).unwrap())
            .unwrap();
    ["own_mean_mse", "against_mean_mse", "auc"].map(|k| json[k].as_f64().unwrap())
}

backend_test!(fn conv_models_report_the_same_figures_on_every_backend(backend) {
    let name = backend.as_str();
    for (model, extra) in [
        ("conv-ae", &[][..]),
        ("denoising-ae", &[][..]),
        ("vae", &["--arch", "conv", "--latent-dim", "4"][..]),
    ] {
        let root = temp_dir(&format!("agree-run-{model}-{name}"));
        let data = data(&root);
        let run = root.join("run");
        let mut args = vec![
            model, "--backend", name, "--data-dir", data.to_str().unwrap(),
            "--out", run.to_str().unwrap(), "--epochs", "1", "--batch-size", "16",
            "--no-dashboard",
        ];
        args.extend_from_slice(extra);
        let trained = train(&args);
        assert_success(&trained);
        let stderr = text(&trained.stderr);
        assert!(!stderr.contains("warning:"), "{model} on {name}: {stderr}");
        // On a GPU backend the images are kept on the device (within its buffer limit).
        let resident = stderr.contains("data set kept on the device");
        assert_eq!(resident, name == "wgpu", "{model} on {name}: {stderr}");
        // What training reported, what flex computes from the saved weights, and what `ae`
        // computes on this backend: one figure (printed to 5 decimals).
        let reported = last_test_loss(&run);
        let figure = |backend: &str| {
            let out = ae(&[
                "reconstruct", run.to_str().unwrap(), "--backend", backend,
                "--data-dir", data.to_str().unwrap(),
            ]);
            number_after(&out, "test loss")
        };
        let (on_flex, here) = (figure("flex"), figure(name));
        let tolerance = 1e-4 * reported.abs() + 5e-6;
        assert!((on_flex - reported).abs() <= tolerance, "{model}: flex {on_flex}, trained on {name} {reported}");
        assert!((here - on_flex).abs() <= tolerance, "{model}: {name} {here}, flex {on_flex}");
        if model == "vae" {
            assert_batching_does_not_matter(&run, &data);
        }
        if model == "conv-ae" {
            let (got, want) = (ood(&run, &data, name), ood(&run, &data, "flex"));
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-4 * w.abs(), "ae ood on {name}: {got:?}, flex {want:?}");
            }
        }
    }
});

/// The test loss of a run's saved weights is the same for any evaluation batch size (the
/// VAE's noise is drawn per image, not per batch).
fn assert_batching_does_not_matter(run: &Path, data: &Path) {
    let flex = burn::prelude::Device::flex();
    let (mut cfg, model) = autoencoders::run_dir::RunDir::open(run)
        .load_model(&flex)
        .unwrap();
    let (_, test) = autoencoders::input::data::load(&cfg, Some(data.to_path_buf())).unwrap();
    let mut figures = Vec::new();
    for batch in [16, 5, 24] {
        cfg.batch_size = batch;
        figures.push(autoencoders::eval::evaluate(&model, &test, &cfg, &flex).unwrap());
    }
    assert!(
        figures
            .iter()
            .all(|f| (f - figures[0]).abs() <= 1e-5 * figures[0]),
        "test loss by batch size 16, 5, 24: {figures:?}"
    );
}
