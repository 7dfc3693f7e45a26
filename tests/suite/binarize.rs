//! `train --binarize`: the images drawn once as black and white, kept in the run's config, and
//! drawn the same way again by every `ae` command that reads the run.

use crate::ae::{number_after, ok};
use crate::bad_input::fails_with;
use crate::cli::{assert_success, last_test_loss, train};
use crate::common::{temp_dir, write_images};
use ae_data::{Samples, Split};
use autoencoders::config::{DatasetArg, ModelName, RunConfig};
use autoencoders::input::data::load_split;
use std::path::Path;

fn pixels(set: &Samples) -> &[u8] {
    match set {
        Samples::Images(s) => &s.pixels,
        Samples::Vectors(_) => panic!("images expected"),
    }
}

fn vae(data: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "vae",
        "--backend",
        "flex",
        "--no-dashboard",
        "--latent-dim",
        "4",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    assert_success(&train(&args));
}

#[test]
fn binarised_runs_train_and_replay_on_black_and_white_pixels() {
    let root = temp_dir("binarize");
    // Made-up digits at half brightness: every lit pixel is grey 127.
    write_images(&root.join("mnist"), 64, 24, |p| p / 2);

    let mut cfg: RunConfig = ModelName::Vae.default_config();
    cfg.dataset = DatasetArg::Mnist;
    let grey = load_split(&cfg, Split::Test, Some(root.clone())).unwrap();
    cfg.binarize = true;
    let drawn = load_split(&cfg, Split::Test, Some(root.clone())).unwrap();
    let (grey, drawn) = (pixels(&grey), pixels(&drawn));
    assert_eq!(grey.len(), drawn.len());
    assert!(drawn.iter().all(|&p| p == 0 || p == 255));
    // Black stays black; about half the lit pixels (some 900) come out white.
    assert!(grey.iter().zip(drawn).all(|(&g, &d)| g > 0 || d == 0));
    let lit = grey.iter().filter(|&&g| g > 0).count();
    let white = drawn.iter().filter(|&&d| d == 255).count();
    assert!(
        lit > 500 && (white as f64 / lit as f64 - 127.0 / 255.0).abs() < 0.06,
        "{white} of {lit}"
    );

    let (plain, binarised) = (root.join("plain"), root.join("binarised"));
    vae(&root, &plain, &[]);
    vae(&root, &binarised, &["--binarize"]);
    let saved = std::fs::read_to_string(binarised.join("config.json")).unwrap();
    assert!(saved.contains("\"binarize\": true"), "{saved}");
    let loss = last_test_loss(&binarised);
    assert!(
        (loss - last_test_loss(&plain)).abs() > 1e-3 * loss,
        "binarising changed nothing"
    );
    // `ae reconstruct` draws the test images as training did: the same test loss.
    let run = binarised.to_str().unwrap();
    let data = root.to_str().unwrap();
    let args = ["reconstruct", run, "--backend", "flex", "--data-dir", data];
    let replayed = number_after(&ok(&args), "test loss");
    assert!(
        (replayed - loss).abs() <= 1e-4 * loss,
        "{replayed} vs {loss}"
    );
}

#[test]
fn binarize_is_refused_where_there_are_no_images() {
    let root = temp_dir("binarize-refused");
    let out = root.join("run");
    let args = [
        "linear-ae",
        "--dataset",
        "plane3d",
        "--binarize",
        "--no-dashboard",
    ];
    let out_args = ["--out", out.to_str().unwrap()];
    fails_with(
        &[&args[..], &out_args[..]].concat(),
        1,
        "--binarize applies to image data sets, not plane3d",
    );
    assert!(!out.exists(), "a refused run leaves no folder");
}
