//! Sizes a user controls that once reached a panic or an abort: a kernel the convolutional
//! network cannot use, a batch larger than memory, a damaged optimizer record on `--resume`,
//! and more images than one device buffer holds for `ae decode` (`ae reconstruct` shares its
//! batching).

use crate::ae::{args, dense, ok, png_size, span};
use crate::bad_input::{assert_fails, fails_with};
use crate::cli::{assert_success, strs, train, train_args as run_args};
use crate::common::{covers, temp_dir, tiny_dataset};
use autoencoders::backend::BackendChoice;
use autoencoders::config::ModelName;
use image::GenericImageView;
use std::path::Path;

#[test]
fn conv_kernels_that_do_not_give_back_the_image_are_refused_by_name() {
    let root = temp_dir("bad-kernel");
    let data = tiny_dataset(&root, 20, 10);
    let mut cfg: serde_json::Value =
        serde_json::from_str(ModelName::ConvAe.default_config_text()).unwrap();
    // 'valid' 16 -> 17 - k, then x2: 5 gives 24, 1 gives 32, 17 and above nothing at all.
    for (k, side) in [(5, 24), (1, 32), (17, 0), (101, 0)] {
        cfg["network"]["kernel_size"] = k.into();
        let file = root.join(format!("k{k}.json"));
        std::fs::write(&file, cfg.to_string()).unwrap();
        let out = root.join(format!("out-{k}"));
        let a = run_args(
            "conv-ae",
            &data,
            &out,
            &["--config", file.to_str().unwrap()],
        );
        fails_with(
            &strs(&a),
            1,
            &format!("kernel_size {k} gives {side}x{side} reconstructions of 28x28 images"),
        );
    }
}

#[test]
fn a_batch_beyond_any_data_set_is_refused_and_one_beyond_this_set_is_one_step() {
    let root = temp_dir("bad-batch");
    let data = tiny_dataset(&root, 20, 10);
    let out = root.join("out");
    let huge = usize::MAX.to_string();
    fails_with(
        &strs(&run_args("dense-ae", &data, &out, &["--batch-size", &huge])),
        1,
        &format!("batch size must be at most 1048576, not {huge}"),
    );
    // The largest accepted batch on a 20-image set: one step of all 20 images an epoch.
    let a = run_args(
        "dense-ae",
        &data,
        &out,
        &["--batch-size", "1048576", "--epochs", "1"],
    );
    assert_success(&train(&strs(&a)));
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
}

#[test]
fn a_data_set_that_cannot_be_found_leaves_no_run_folder_behind() {
    let root = temp_dir("no-data-no-folder");
    let out = root.join("new-run");
    let a = run_args("dense-ae", Path::new("/nonexistent-data"), &out, &[]);
    fails_with(&strs(&a), 1, "--data-dir /nonexistent-data: no mnist files");
    assert!(!out.exists(), "{} was left behind", out.display());
}

#[test]
fn resume_refuses_an_optimizer_record_that_does_not_fit_the_model() {
    let root = temp_dir("bad-optim");
    let data = tiny_dataset(&root, 20, 10);
    let (wide, narrow) = (root.join("wide"), root.join("narrow"));
    for (out, latent) in [(&wide, "16"), (&narrow, "8")] {
        let a = run_args(
            "dense-ae",
            &data,
            out,
            &[
                "--epochs",
                "1",
                "--latent-dim",
                latent,
                "--batch-size",
                "10",
            ],
        );
        assert_success(&train(&strs(&a)));
    }
    // The wide run's Adam state copied over the narrow run's: readable, but not its shapes.
    let optim = |run: &Path| run.join("checkpoint/optim-1.bpk");
    std::fs::copy(optim(&wide), optim(&narrow)).unwrap();
    let a = run_args("dense-ae", &data, &narrow, &["--resume", "--epochs", "2"]);
    let o = train(&strs(&a));
    assert_fails(
        &o,
        "resume with a foreign optimizer record",
        1,
        "does not fit the model",
    );
    assert_fails(&o, "the file is named", 1, "optim-1.bpk");
    // Nothing of the run was lost: the record of epoch 1 is still the last one.
    assert_eq!(
        crate::cli::last_value(&narrow, "epoch"),
        1.0,
        "metrics.csv still ends at epoch 1"
    );
}

/// Codes that differ from row to row, `k` numbers each, as CSV.
fn codes_csv(path: &Path, rows: usize, k: usize) {
    let mut text = String::with_capacity(rows * k * 8);
    for r in 0..rows {
        let row: Vec<String> = (0..k)
            .map(|j| format!("{:.4}", ((r * 7 + j * 13) as f32 * 0.37).sin() * 3.0))
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// The pixels of the tile at `index` of a grid of `cols` tiles of 28 px at scale 3.
fn tile(png: &Path, index: u32, cols: u32) -> Vec<u8> {
    let img = image::open(png).unwrap().to_luma8();
    let step = 28 * 3 + 2;
    let (x, y) = (2 + (index % cols) * step, 2 + (index / cols) * step);
    img.view(x, y, 28 * 3, 28 * 3)
        .pixels()
        .map(|(_, _, p)| p.0[0])
        .collect()
}

#[test]
fn decode_works_through_many_batches_and_keeps_the_order() {
    let run = dense();
    let dir = temp_dir("decode-batches");
    // 1,201 codes: three batches of 500, 500 and 201.
    let (all, last) = (dir.join("all.csv"), dir.join("last.csv"));
    codes_csv(&all, 1201, 8);
    let text = std::fs::read_to_string(&all).unwrap();
    std::fs::write(&last, text.lines().last().unwrap()).unwrap();
    let (all_png, last_png) = (dir.join("all.png"), dir.join("last.png"));
    for (codes, png, count) in [(&all, &all_png, "1201"), (&last, &last_png, "1")] {
        let a = [
            codes.to_str().unwrap(),
            "--count",
            count,
            "--cols",
            "50",
            "--out",
            png.to_str().unwrap(),
        ];
        ok(&args("decode", run, &a));
    }
    assert_eq!(png_size(&all_png), (span(50, 3), span(25, 3)));
    // The last code of the third batch decodes as it does alone.
    assert_eq!(tile(&all_png, 1200, 50), tile(&last_png, 0, 50));
    assert_ne!(tile(&all_png, 1200, 50), tile(&all_png, 0, 50));
}

#[test]
fn decode_on_wgpu_goes_beyond_one_device_buffer() {
    if !covers(
        BackendChoice::Wgpu,
        "decoding more codes than one wgpu buffer holds",
    ) {
        return;
    }
    let run = dense();
    let dir = temp_dir("decode-wgpu");
    // 43,000 images of 784 floats are 135 MB, more than lavapipe's 128 MiB buffer limit.
    let codes = dir.join("codes.csv");
    codes_csv(&codes, 43_000, 8);
    let png = dir.join("decoded.png");
    let mut a = args(
        "decode",
        run,
        &[
            codes.to_str().unwrap(),
            "--count",
            "43000",
            "--cols",
            "250",
            "--out",
            png.to_str().unwrap(),
        ],
    );
    a[3] = "wgpu";
    let out = ok(&a);
    assert!(out.contains("43000 decoded codes"), "{out}");
    assert_eq!(png_size(&png), (span(250, 3), span(172, 3)));
}

#[test]
fn sizes_beyond_the_machine_are_refused_with_the_estimate_and_leave_no_folder() {
    let root = temp_dir("preflight");
    let data = tiny_dataset(&root, 20, 10);
    let mut conv: serde_json::Value =
        serde_json::from_str(ModelName::ConvAe.default_config_text()).unwrap();
    conv["network"]["channels"] = serde_json::json!([100_000_000, 8, 8]);
    let conv_file = root.join("wide-conv.json");
    std::fs::write(&conv_file, conv.to_string()).unwrap();
    let cases: [(&str, &[&str]); 3] = [
        (
            "dense-ae",
            &["--latent-dim", "4000000000", "--overcomplete"],
        ),
        ("dense-ae", &["--hidden", "100000,100000"]),
        ("conv-ae", &["--config", conv_file.to_str().unwrap()]),
    ];
    for (i, (model, extra)) in cases.into_iter().enumerate() {
        let out = root.join(format!("run-{i}"));
        let a = run_args(model, &data, &out, extra);
        let o = train(&strs(&a));
        let what = format!("{model} {extra:?}");
        assert_fails(
            &o,
            &what,
            1,
            &format!("{model} with these sizes needs about"),
        );
        assert_fails(&o, &what, 1, "of memory available");
        assert!(!out.exists(), "{what}: {} was left behind", out.display());
    }
}

#[test]
fn a_tensor_beyond_a_wgpu_buffer_is_refused_before_it_is_made() {
    if !covers(BackendChoice::Wgpu, "a tensor larger than a wgpu buffer") {
        return;
    }
    let limit = autoencoders::backend::wgpu_adapters()[0].max_buffer_bytes;
    // One hidden layer whose 784 x width weights are just over the limit.
    let width = (limit / (784 * 4) + 1000).to_string();
    let root = temp_dir("preflight-wgpu");
    let data = tiny_dataset(&root, 20, 10);
    let out = root.join("run");
    let mut a = run_args("dense-ae", &data, &out, &["--hidden", &width]);
    a[2] = "wgpu".into();
    let o = train(&strs(&a));
    // On lavapipe (128 MiB) the buffer is what stops it; a GPU with a larger limit may run out
    // of host memory for the estimate first.
    let stderr = crate::cli::text(&o.stderr);
    let needle = if stderr.contains("one buffer may hold") {
        "one buffer may hold"
    } else {
        "of memory available"
    };
    assert_fails(&o, "a weight over the buffer limit", 1, needle);
    assert!(!out.exists());
}

#[test]
fn a_picture_too_large_to_draw_is_refused_before_anything_is_decoded() {
    let run = dense();
    let dir = temp_dir("decode-too-large");
    let codes = dir.join("codes.csv");
    codes_csv(&codes, 100_000, 8);
    // One column of 100,000 tiles of 84 px: 88 x 8.6 million pixels.
    let a = [codes.to_str().unwrap(), "--count", "100000", "--cols", "1"];
    let o = crate::ae::ae(&args("decode", run, &a));
    assert_fails(
        &o,
        "a 740-megapixel picture",
        1,
        "a picture of 100000 images would be 88 x 8600002 pixels, more than the 500 million",
    );
}
