//! A resumed run repeats the uninterrupted one for the models whose training draws random
//! numbers: the VAE (its noise, drawn on the device, and a KL warm-up that spans the resume
//! point) and the denoising autoencoder (fresh input noise every batch).

use crate::cli::{assert_success, text, train};
use crate::common::{temp_dir, tiny_dataset};
use autoencoders::train::epoch_log::{EpochRow, from_csv};
use std::path::Path;

/// `train <model> <extra>` on flex over `data` into `out`, `epochs` epochs (resuming if asked).
fn run(model: &str, extra: &[&str], data: &Path, out: &Path, epochs: &str, resume: bool) {
    let mut args = vec![
        model,
        "--backend",
        "flex",
        "--batch-size",
        "32",
        "--no-dashboard",
        "--epochs",
        epochs,
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if resume {
        args.push("--resume");
    } else {
        args.extend_from_slice(extra);
    }
    let o = train(&args);
    assert_success(&o);
    if resume {
        assert!(
            text(&o.stderr).contains("after epoch 2 of 4"),
            "{}",
            text(&o.stderr)
        );
    }
}

fn rows(out: &Path, terms: &[&str]) -> Vec<EpochRow> {
    from_csv(
        &std::fs::read_to_string(out.join("metrics.csv")).unwrap(),
        terms,
    )
    .unwrap()
}

#[test]
fn the_vae_and_the_denoising_ae_resume_to_the_uninterrupted_run() {
    let cases: [(&str, &[&str], &[&str]); 2] = [
        (
            "vae",
            &["--latent-dim", "4", "--warmup", "3"],
            &["Loss", "Reconstruction", "KL"],
        ),
        (
            "denoising-ae",
            &["--arch", "dense", "--noise", "gaussian"],
            &["Loss"],
        ),
    ];
    for (model, extra, terms) in cases {
        let root = temp_dir(&format!("resume-draws-{model}"));
        let data = tiny_dataset(&root, 256, 64);
        let (whole, split) = (root.join("whole"), root.join("split"));
        run(model, extra, &data, &whole, "4", false);
        run(model, extra, &data, &split, "2", false);
        run(model, extra, &data, &split, "4", true);
        let (a, b) = (rows(&whole, terms), rows(&split, terms));
        assert_eq!((a.len(), b.len()), (4, 4), "{model}");
        for (x, y) in a.iter().zip(&b) {
            for term in terms {
                for (u, v) in [
                    (x.train[*term], y.train[*term]),
                    (x.test[*term], y.test[*term]),
                ] {
                    assert!(
                        (u - v).abs() <= 1e-7 * u.abs(),
                        "{model}, epoch {}, {term}: {u} uninterrupted, {v} resumed",
                        x.epoch
                    );
                }
            }
        }
        // The draws matter: the training losses differ from epoch to epoch, and the KL
        // warm-up made the VAE's first epochs' totals lower than reconstruction + KL.
        if model == "vae" {
            let first = &a[0].train;
            assert!(
                first["Loss"] < first["Reconstruction"] + first["KL"] - 1e-3,
                "{first:?}"
            );
        }
    }
}
