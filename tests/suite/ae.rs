//! The `ae` command end to end, on small runs trained on a made-up data set: every command's
//! files, its figures against independent ones, and its refusals.

use crate::cli::{assert_success, last_test_loss, text, train};
use crate::common::{temp_dir, tiny_dataset, write_images};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs `ae` with `args` on flex, with no data set in the environment.
pub fn ae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env_remove("AE_DATA_DIR")
        .env("AE_DATA_MIRROR", "http://127.0.0.1:9")
        .output()
        .expect("the ae binary runs")
}

pub fn ok(args: &[&str]) -> String {
    let o = ae(args);
    assert!(
        o.status.success(),
        "ae {args:?} failed:\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn fails_with(args: &[&str], needle: &str) {
    crate::bad_input::assert_fails(&ae(args), &format!("ae {args:?}"), 1, needle);
}

/// The data folder: made-up MNIST, and a "fashion-mnist" of the same images inverted.
pub fn data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = temp_dir("ae-data");
        tiny_dataset(&root, 200, 60);
        write_images(&root.join("fashion-mnist"), 200, 60, |p| 255 - p);
        root
    })
}

fn trained(name: &str, model: &str, extra: &[&str]) -> PathBuf {
    let out = temp_dir(name).join("run");
    let mut args = vec![
        model,
        "--backend",
        "flex",
        "--data-dir",
        data().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--epochs",
        "3",
        "--batch-size",
        "20",
        "--no-dashboard",
    ];
    args.extend_from_slice(extra);
    assert_success(&train(&args));
    out
}

/// A dense autoencoder with an 8-number code.
pub fn dense() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| trained("ae-dense", "dense-ae", &["--latent-dim", "8"]))
}

/// A VAE with a 2-number code.
pub fn vae() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| trained("ae-vae", "vae", &["--latent-dim", "2", "--warmup", "0"]))
}

/// `ae <cmd> <run> --backend flex --data-dir <data> <extra>`.
pub fn args<'a>(cmd: &'a str, run: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        cmd,
        run.to_str().unwrap(),
        "--backend",
        "flex",
        "--data-dir",
        data().to_str().unwrap(),
    ];
    v.extend_from_slice(extra);
    v
}

pub fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

/// Width or height of a grid of `n` tiles of 28 px at `scale`, gaps of 2.
pub fn span(n: u32, scale: u32) -> u32 {
    n * 28 * scale + (n + 1) * 2
}

pub fn number_after(text: &str, key: &str) -> f64 {
    let rest = &text[text
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {text}"))
        + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn reconstruct_draws_pairs_and_reports_the_training_figure() {
    let run = dense();
    let out = ok(&args("reconstruct", run, &["--count", "5"]));
    assert_eq!(
        png_size(&run.join("ae/reconstruct.png")),
        (span(5, 3), span(2, 3))
    );
    // The loss over the whole test split is the one training reported for its last epoch.
    let loss = number_after(&out, "test loss");
    let trained = last_test_loss(run);
    assert!(
        (loss - trained).abs() <= 1e-4 * trained.max(1e-3),
        "{loss} vs {trained}"
    );
    // Chosen images, on another backend, to another file: the same figure.
    let png = run.join("chosen.png");
    let mut on_ndarray = args(
        "reconstruct",
        run,
        &["--indices", "0,3,59", "--out", png.to_str().unwrap()],
    );
    on_ndarray[3] = "ndarray";
    let out = ok(&on_ndarray);
    assert_eq!(png_size(&png), (span(3, 3), span(2, 3)));
    assert!((number_after(&out, "test loss") - loss).abs() < 1e-4);
    fails_with(
        &args("reconstruct", run, &["--indices", "60"]),
        "--indices 60: there are 60 samples",
    );
}

#[test]
fn encode_writes_codes_that_decode_reads_back() {
    let run = dense();
    let out = ok(&args("encode", run, &[]));
    assert!(out.contains("8-number codes of 60 test samples"), "{out}");
    let csv = std::fs::read_to_string(run.join("ae/codes-test.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "index,label,z0,z1,z2,z3,z4,z5,z6,z7");
    assert_eq!(lines.len(), 61);
    assert!(lines[4].starts_with("3,3,"), "{}", lines[4]);
    let npy = std::fs::read(run.join("ae/codes-test.npy")).unwrap();
    let header_len = usize::from(u16::from_le_bytes([npy[8], npy[9]]));
    let header = String::from_utf8_lossy(&npy[10..10 + header_len]).to_string();
    assert!(
        header.contains("'<f4'") && header.contains("(60, 8)"),
        "{header}"
    );
    let first = f32::from_le_bytes(npy[10 + header_len..][..4].try_into().unwrap());
    let csv_first: f32 = lines[1].split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(first, csv_first);
    let labels = std::fs::read(run.join("ae/codes-test-labels.npy")).unwrap();
    assert_eq!(
        labels[labels.len() - 60..].to_vec(),
        (0..60).map(|i| (i % 10) as u8).collect::<Vec<_>>()
    );

    // Both files decode, to the same picture; 60 codes, --count 12: 10 to a row.
    let (a, b) = (run.join("from-csv.png"), run.join("from-npy.png"));
    for (codes, png) in [("ae/codes-test.csv", &a), ("ae/codes-test.npy", &b)] {
        let codes = run.join(codes);
        let o = ok(&args(
            "decode",
            run,
            &[
                codes.to_str().unwrap(),
                "--count",
                "12",
                "--out",
                png.to_str().unwrap(),
            ],
        ));
        assert!(o.contains("the first 12 of 60"), "{o}");
    }
    assert_eq!(png_size(&a), (span(10, 3), span(2, 3)));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // A made-up thought vector of the wrong size is refused by name.
    let mine = run.join("mine.csv");
    std::fs::write(&mine, "0.5,1,-1\n").unwrap();
    fails_with(
        &args("decode", run, &[mine.to_str().unwrap()]),
        "codes of 3 numbers, the model's have 8",
    );
}

#[test]
fn vae_sample_manifold_and_latent_map() {
    let run = vae();
    ok(&args(
        "sample",
        run,
        &["--count", "15", "--temperature", "0.5"],
    ));
    assert_eq!(
        png_size(&run.join("ae/sample.png")),
        (span(10, 2), span(2, 2))
    );
    ok(&args("manifold", run, &["--size", "4"]));
    assert_eq!(
        png_size(&run.join("ae/manifold.png")),
        (span(4, 2), span(4, 2))
    );
    let out = ok(&args("latent-map", run, &[]));
    assert!(out.contains("the 2-D codes"), "{out}");
    assert_eq!(png_size(&run.join("ae/latent-map.png")), (900, 760));
    // The manifold's corners differ: the decoder is not constant over the latent square.
    let img = image::open(run.join("ae/manifold.png")).unwrap().to_luma8();
    let tile = |r: u32, c: u32| -> Vec<u8> {
        let (x0, y0) = (2 + c * 58, 2 + r * 58);
        (0..56)
            .flat_map(|y| (0..56).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(x0 + x, y0 + y).0[0])
            .collect()
    };
    assert_ne!(tile(0, 0), tile(3, 3));
}

#[test]
fn dense_pictures_interpolate_average_features_and_pca_map() {
    let run = dense();
    ok(&args(
        "interpolate",
        run,
        &["--from", "0", "--to", "5", "--steps", "6"],
    ));
    assert_eq!(
        png_size(&run.join("ae/interpolate.png")),
        (span(8, 3), span(2, 3))
    );
    let out = ok(&args("average", run, &[]));
    assert!(out.contains("0 (6), 1 (6)"), "{out}");
    assert_eq!(
        png_size(&run.join("ae/average.png")),
        (span(10, 3), span(2, 3))
    );
    ok(&args("average", run, &["--indices", "1,11,21"]));
    // 784-8-784: eight units, drawn 3 to a row.
    let out = ok(&args("features", run, &["--count", "16"]));
    assert!(out.contains("8 of the 8 first-layer units"), "{out}");
    assert_eq!(
        png_size(&run.join("ae/features.png")),
        (span(3, 2), span(3, 2))
    );
    let out = ok(&args("latent-map", run, &[]));
    assert!(
        out.contains("8-D codes on their first two principal components"),
        "{out}"
    );
}

#[test]
fn probe_compress_and_ood_measure_the_model() {
    let run = dense();
    let out = ok(&args(
        "probe",
        run,
        &["--epochs", "20", "--batch-size", "20"],
    ));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("ae/probe.json")).unwrap()).unwrap();
    let acc = |i: usize| json["results"][i]["test_accuracy"].as_f64().unwrap();
    // Several made-up classes draw the same bars (2 and 6, 3 and 7; 1, 5 and 9 often), so
    // about 60% is the best any classifier can do here; chance is 10%.
    assert!(acc(1) > 0.5, "pixels {}: {out}", acc(1));
    assert!(acc(0) > 0.3, "codes {}: {out}", acc(0));
    assert_eq!(json["results"][0]["dim"], 8);

    let out = ok(&args(
        "compress",
        run,
        &["--limit", "20", "--examples", "4"],
    ));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("ae/compress.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{out}");
    assert_eq!(rows[0]["bytes"], 32.0);
    assert_eq!(rows[1]["bytes"], 16.0);
    // JPEG files carry hundreds of bytes of headers; their data alone is smaller.
    assert!(
        rows[2]["bytes"].as_f64().unwrap() > rows[2]["payload_bytes"].as_f64().unwrap() + 100.0
    );
    assert!(
        rows[3]["payload_bytes"].as_f64().unwrap() <= 16.0
            || json["jpeg_larger_than_code_at_quality_1"].as_u64().unwrap() > 0
    );
    assert_eq!(
        png_size(&run.join("ae/compress.png")),
        (span(4, 3), span(4, 3))
    );

    // Inverted images are far from anything the model saw: their error tells them apart.
    let out = ok(&args("ood", run, &[]));
    let auc = number_after(&out, "out-of-distribution score:");
    assert!(auc > 0.95, "{out}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("ae/ood.json")).unwrap()).unwrap();
    assert_eq!(json["against"], "fashion-mnist");
    assert!(json["against_mean_mse"].as_f64().unwrap() > json["own_mean_mse"].as_f64().unwrap());
    assert_eq!(png_size(&run.join("ae/ood.png")), (900, 560));
}

#[test]
fn commands_refuse_what_does_not_fit_with_one_line() {
    let (dense, vae) = (dense(), vae());
    let missing = temp_dir("ae-missing").join("nothing");
    fails_with(&args("reconstruct", &missing, &[]), "does not exist");
    let empty = temp_dir("ae-empty");
    fails_with(
        &args("encode", &empty, &[]),
        "is not a run folder: it has no config.json",
    );
    fails_with(&args("sample", dense, &[]), "holds a dense-ae, not a vae");
    fails_with(&args("manifold", dense, &[]), "holds a dense-ae, not a vae");
    fails_with(
        &args("features", vae, &[]),
        "draws the weights of a dense first layer",
    );
    fails_with(
        &args("ood", dense, &["--against", "mnist"]),
        "the model's own data set",
    );
    fails_with(
        &args("interpolate", dense, &["--steps", "1"]),
        "--steps 1: give 2 to 100",
    );
    let codes = temp_dir("ae-codes").join("codes.npy");
    std::fs::write(&codes, b"not numpy").unwrap();
    fails_with(
        &args("decode", dense, &[codes.to_str().unwrap()]),
        "not an .npy file",
    );
    // Weights that do not match the config: a copy of the run with another code size.
    let copy = temp_dir("ae-mismatch");
    for f in ["config.json", "model.bpk"] {
        std::fs::copy(dense.join(f), copy.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(copy.join("config.json")).unwrap();
    std::fs::write(
        copy.join("config.json"),
        cfg.replace("\"latent_dim\": 8", "\"latent_dim\": 9"),
    )
    .unwrap();
    fails_with(
        &args("reconstruct", &copy, &[]),
        "does not fit the dense-ae described in config.json",
    );
    std::fs::remove_file(copy.join("model.bpk")).unwrap();
    fails_with(&args("reconstruct", &copy, &[]), "has no model.bpk");
}

#[test]
fn help_lists_every_command() {
    let o = ae(&["--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    for cmd in [
        "reconstruct",
        "encode",
        "decode",
        "sample",
        "interpolate",
        "average",
        "latent-map",
        "manifold",
        "features",
        "probe",
        "compress",
        "ood",
    ] {
        assert!(
            help.contains(&format!("  {cmd} ")),
            "{cmd} missing from: {help}"
        );
        let sub = ae(&[cmd, "--help"]);
        assert!(
            sub.status.success() && text(&sub.stdout).contains("<RUN>"),
            "{cmd} --help"
        );
    }
    // No command: usage on stderr, exit 2 (clap's convention for usage errors).
    assert_eq!(ae(&[]).status.code(), Some(2));
}
