//! `--arch wide`: keras.io's denoising net (32-channel convolutions, stride-2 transposed
//! convolutions, a 32x7x7 code) trains as conv-ae and denoising-ae, replays its test loss in
//! `ae reconstruct`, exports under the PyTorch peer's names, and is refused where it does not fit.

use crate::ae::{args, data, number_after, ok};
use crate::bad_input::fails_with;
use crate::cli::{assert_success, last_test_loss, train};
use crate::common::temp_dir;

fn run(model: &str, out: &std::path::Path, extra: &[&str]) {
    let d = data().to_str().unwrap();
    let o = out.to_str().unwrap();
    let mut a = vec![
        model,
        "--arch",
        "wide",
        "--backend",
        "flex",
        "--data-dir",
        d,
        "--out",
        o,
        "--epochs",
        "2",
        "--batch-size",
        "20",
        "--no-dashboard",
    ];
    a.extend_from_slice(extra);
    assert_success(&train(&a));
}

#[test]
fn the_wide_net_trains_replays_and_exports() {
    let root = temp_dir("wide");
    let out = root.join("conv");
    run("conv-ae", &out, &[]);
    let saved = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(saved.contains("\"kind\": \"conv-wide\""), "{saved}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let losses: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(losses[1] < losses[0], "the test loss falls: {losses:?}");
    let loss = last_test_loss(&out);
    let replayed = number_after(&ok(&args("reconstruct", &out, &[])), "test loss");
    assert!(
        (replayed - loss).abs() <= 1e-4 * loss,
        "{replayed} vs {loss}"
    );

    // torch_ae.wide(): Conv2d 0 and 3 ([out, in, 3, 3]), ConvTranspose2d 6 and 8 ([in, out,
    // 3, 3]), Conv2d 10.
    let file = root.join("wide.safetensors");
    ok(&args("export", &out, &["--out", file.to_str().unwrap()]));
    let header = crate::export::safetensors_shapes(&file);
    let expected = [
        ("0", [32, 1, 3, 3]),
        ("3", [32, 32, 3, 3]),
        ("6", [32, 32, 3, 3]),
        ("8", [32, 32, 3, 3]),
        ("10", [1, 32, 3, 3]),
    ];
    assert_eq!(header.len(), 2 * expected.len(), "{header:?}");
    for (i, shape) in expected {
        assert_eq!(header[&format!("{i}.weight")], shape, "{i}");
        assert_eq!(header[&format!("{i}.bias")], [shape[0]], "{i}");
    }

    // The denoising autoencoder takes the same body.
    let den = root.join("denoising");
    run("denoising-ae", &den, &[]);
    assert!(last_test_loss(&den).is_finite());
}

#[test]
fn the_wide_net_is_refused_where_it_does_not_fit() {
    let root = temp_dir("wide-refused");
    let out = root.join("run");
    let o = out.to_str().unwrap();
    fails_with(
        &["vae", "--arch", "wide", "--out", o, "--no-dashboard"],
        1,
        "vae takes --arch conv or dense",
    );
    fails_with(
        &["conv-ae", "--arch", "dense", "--out", o, "--no-dashboard"],
        1,
        "conv-ae takes --arch conv or wide",
    );
    fails_with(
        &[
            "conv-ae",
            "--arch",
            "wide",
            "--dataset",
            "plane3d",
            "--out",
            o,
            "--no-dashboard",
        ],
        1,
        "holds vectors, not images",
    );
    assert!(!out.exists(), "a refused run leaves no folder");
}
