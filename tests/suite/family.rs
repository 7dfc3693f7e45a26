//! The model family end to end on the CPU: the lecture notes' toy cases (the binary code, the
//! linear autoencoder on a plane in 3-D) and each model's run folder and pictures.

use crate::cli::{assert_success, last_value, quick_run, text, train};
use crate::common::temp_dir;
use std::path::{Path, PathBuf};

fn pca_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("pca.json")).unwrap()).unwrap()
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Runs `train` with `args` on flex, quietly, into a fresh folder named after `name`.
fn train_flex(name: &str, args: &[&str]) -> (std::process::Output, PathBuf) {
    let out = temp_dir(name).join("run");
    let mut all = args.to_vec();
    all.extend([
        "--backend",
        "flex",
        "--no-dashboard",
        "--out",
        out.to_str().unwrap(),
    ]);
    (train(&all), out)
}

#[test]
fn binary_ae_gives_four_distinct_codes_and_reconstructs_every_input() {
    let (o, out) = train_flex("binary", &["binary-ae"]);
    assert_success(&o);
    let stdout = text(&o.stdout);
    assert!(stdout.contains("codes of the 4 inputs"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("codes.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4, "{csv}");
    let inputs: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(inputs, ["1000", "0100", "0010", "0001"]);
    let mut codes: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 4, "codes are not distinct:\n{csv}");
    for r in &rows {
        assert_eq!(
            r[3], r[0],
            "input {} reconstructed as {}:\n{csv}",
            r[0], r[3]
        );
    }
}

#[test]
fn linear_ae_on_plane3d_finds_pcas_plane() {
    let (o, out) = train_flex("plane3d", &["linear-ae", "--dataset", "plane3d"]);
    assert_success(&o);
    assert!(
        text(&o.stdout).contains("linear-ae vs PCA at k = 2"),
        "{}",
        text(&o.stdout)
    );
    let p = pca_json(&out);
    let angle = num(&p, "largest_angle_deg");
    let ratio = num(&p, "test_mse") / num(&p, "test_mse_pca");
    assert!(
        angle < 2.0,
        "the code plane is {angle} degrees off PCA's: {p}"
    );
    assert!(ratio <= 1.01, "MSE {ratio}x PCA's: {p}");
}

/// Trains `model` (with `extra` flags) for 2 epochs on a tiny made-up set; returns the folder.
fn tiny_run(model: &str, name: &str, extra: &[&str]) -> PathBuf {
    let (o, out) = quick_run("flex", model, name, extra);
    assert_success(&o);
    let dev = autoencoders::backend::resolve(autoencoders::backend::BackendChoice::Flex)
        .unwrap()
        .device;
    autoencoders::run_dir::RunDir::open(&out)
        .load_model(&dev)
        .unwrap();
    assert!(out.join("reconstructions.png").exists());
    out
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn every_dense_model_and_the_vae_train_and_leave_their_pictures() {
    for (model, extra) in [
        ("deep-ae", &["--hidden", "64,32", "--latent-dim", "8"][..]),
        ("linear-ae", &["--latent-dim", "8"][..]),
        ("vae", &["--latent-dim", "2", "--warmup", "1"][..]),
        ("vae", &["--arch", "conv", "--latent-dim", "4"][..]),
    ] {
        tiny_run(model, &format!("fam-{model}-{}", extra[1]), extra);
    }
    // The VAE's samples: 10 x 10 tiles of 56 pixels, 2-pixel gaps.
    let vae = tiny_run("vae", "fam-vae-samples", &[]);
    assert_eq!(
        png_size(&vae.join("samples.png")),
        (10 * 56 + 11 * 2, 10 * 56 + 11 * 2)
    );
    assert!(last_value(&vae, "test_kl") > 0.0);
    let recon = last_value(&vae, "test_reconstruction");
    let total = last_value(&vae, "test_loss");
    assert!(
        recon > 100.0 && total > recon,
        "nats per image: {recon} of {total}"
    );
}

#[test]
fn denoising_ae_shows_noisy_denoised_and_clean_rows() {
    for noise in [
        &["--noise", "gaussian", "--noise-std", "0.3"][..],
        &["--noise", "masking"][..],
    ] {
        let mut args = vec!["--arch", "dense"];
        args.extend_from_slice(noise);
        let out = tiny_run("denoising-ae", &format!("fam-denoise-{}", noise[1]), &args);
        // 20 test images: 2 rows each of noisy, denoised and clean, 84-pixel tiles.
        assert_eq!(
            png_size(&out.join("denoising.png")),
            (10 * 84 + 11 * 2, 6 * 84 + 7 * 2)
        );
        let cfg = autoencoders::config::RunConfig::load(&out.join("config.json")).unwrap();
        assert!(cfg.noise.is_some());
    }
}

#[test]
fn sparse_ae_reports_its_terms_and_code_activation() {
    for extra in [
        &["--sparsity", "kl"][..],
        &["--sparsity", "l1", "--l1-weight", "0.001"][..],
    ] {
        let out = tiny_run("sparse-ae", &format!("fam-sparse-{}", extra[1]), extra);
        let mean = last_value(&out, "test_code_mean");
        assert!(mean > 0.0 && mean < 1.0, "{mean}");
        let (recon, penalty) = (
            last_value(&out, "test_reconstruction"),
            last_value(&out, "test_sparsity"),
        );
        let total = last_value(&out, "test_loss");
        assert!(
            (recon + penalty - total).abs() < 1e-4,
            "{recon} + {penalty} != {total}"
        );
    }
}
