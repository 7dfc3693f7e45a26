//! Your own images: `train --dataset folder` on folders the suite writes itself (PNG and JPEG,
//! grey and colour, odd sizes, with and without class subfolders) on every backend, every `ae`
//! command on such runs, and the folder's bad input.

use crate::backend_test;
use crate::bad_input::assert_fails;
use crate::cli::{last_test_loss, strs, text};
use crate::common::temp_dir;
use image::{GrayImage, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How the suite's folders are drawn.
#[derive(Clone, Copy)]
pub struct Look {
    /// Height and width.
    pub size: (u32, u32),
    /// RGB (else grey).
    pub colour: bool,
    /// "png" or "jpg".
    pub ext: &'static str,
}

/// Image `i` of class `k`: a bright rectangle whose place and colour depend on the class, on a
/// dark background that varies a little with `i`.
fn picture(k: usize, i: usize, look: Look) -> RgbImage {
    let (h, w) = look.size;
    let base = (i * 7 % 40) as u8;
    let colour = [[230, 40, 40], [40, 220, 60], [50, 70, 240]][k % 3];
    RgbImage::from_fn(w, h, |x, y| {
        let (cx, cy) = (x * 3 / w.max(1), y * 2 / h.max(1));
        if (cx as usize + 3 * cy as usize) % 3 == k % 3 && !(x + y + i as u32).is_multiple_of(5) {
            Rgb(colour)
        } else {
            Rgb([base, base / 2, base])
        }
    })
}

fn save(img: RgbImage, path: &Path, look: Look) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if look.colour {
        img.save(path).unwrap();
    } else {
        let grey: GrayImage = image::DynamicImage::ImageRgb8(img).into_luma8();
        grey.save(path).unwrap();
    }
}

/// Writes `per_class` images of each class into `dir/<class>/` (or `dir/` itself when
/// `classes` is empty), and returns `dir`.
pub fn write_folder(dir: &Path, classes: &[&str], per_class: usize, look: Look) -> PathBuf {
    let folders: Vec<PathBuf> = if classes.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        classes.iter().map(|c| dir.join(c)).collect()
    };
    for (k, folder) in folders.iter().enumerate() {
        for i in 0..per_class {
            let path = folder.join(format!("{i:03}.{}", look.ext));
            save(picture(k, i, look), &path, look);
        }
    }
    dir.to_path_buf()
}

/// Runs `bin` with `args` and a cache folder of the test's own.
fn run(bin: &str, args: &[&str], cache: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .env("AE_CACHE_DIR", cache)
        .env_remove("AE_DATA_DIR")
        .output()
        .expect("the binary runs")
}

/// `train <model> --dataset folder --data-dir <data> --out <out>` on `backend`, 2 epochs of
/// batches of 8, plus `extra`.
fn train_folder(backend: &str, model: &str, data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = [model, "--backend", backend, "--no-dashboard"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--dataset".into(), "folder".into(), "--data-dir".into()]);
    args.push(data.display().to_string());
    args.extend(["--out".into(), out.display().to_string()]);
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"].map(String::from));
    }
    args.extend(["--batch-size", "8"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let cache = out.with_file_name("cache");
    run(env!("CARGO_BIN_EXE_train"), &strs(&args), &cache)
}

/// Asserts that a command succeeded, showing its output when not.
fn assert_success(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

fn config(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap()
}

fn png_channels(path: &Path) -> u8 {
    image::open(path).unwrap().color().channel_count()
}

const COLOUR_30X45: Look = Look {
    size: (30, 45),
    colour: true,
    ext: "png",
};

backend_test!(fn conv_ae_trains_on_a_colour_folder_of_odd_size(backend) {
    let root = temp_dir(&format!("folder-colour-{}", backend.as_str()));
    let data = write_folder(&root.join("data"), &["bird", "cat", "dog"], 12, COLOUR_30X45);
    let out = root.join("run");
    let o = train_folder(backend.as_str(), "conv-ae", &data, &out, &[]);
    assert_success(&o, "conv-ae on a colour folder");
    let err = text(&o.stderr);
    assert!(err.contains("36 images, 30x45 colour") && err.contains("3 classes"), "{err}");
    let cfg = config(&out);
    assert_eq!(cfg["folder"]["shape"], serde_json::json!([3, 30, 45]));
    assert_eq!(cfg["folder"]["classes"], serde_json::json!(["bird", "cat", "dog"]));
    assert_eq!(cfg["network"]["in_channels"], 3);
    let loss = last_test_loss(&out);
    assert!(loss.is_finite() && loss > 0.0 && loss < 0.7, "test BCE {loss}");
    assert_eq!(png_channels(&out.join("reconstructions.png")), 3);
});

backend_test!(fn dense_and_conv_vae_train_on_grey_jpeg_splits(backend) {
    let root = temp_dir(&format!("folder-grey-{}", backend.as_str()));
    let look = Look {
        size: (20, 13),
        colour: false,
        ext: "jpg",
    };
    let data = root.join("data");
    write_folder(&data.join("train"), &[], 24, look);
    write_folder(&data.join("test"), &[], 6, look);
    for (model, extra) in [("dense-ae", vec![]), ("vae", vec!["--arch", "conv"])] {
        let out = root.join(model);
        let o = train_folder(backend.as_str(), model, &data, &out, &extra);
        assert_success(&o, model);
        let err = text(&o.stderr);
        assert!(err.contains("24 training and 6 test samples"), "{err}");
        assert!(err.contains("20x13 grey") && err.contains("no labels"), "{err}");
        assert_eq!(config(&out)["folder"]["shape"], serde_json::json!([1, 20, 13]));
        assert!(last_test_loss(&out).is_finite());
        assert_eq!(png_channels(&out.join("reconstructions.png")), 1);
    }
});

/// A colour conv-ae, a 2-D conv VAE and a dense-ae trained on a labelled folder, for the `ae`
/// commands.
fn ae_runs(root: &Path) -> [PathBuf; 3] {
    let data = write_folder(&root.join("data"), &["a", "b", "c"], 10, COLOUR_30X45);
    let runs = [
        ("conv-ae", &[][..]),
        ("vae", &["--arch", "conv", "--latent-dim", "2"][..]),
        ("dense-ae", &[][..]),
    ];
    runs.map(|(model, extra)| {
        let out = root.join(model);
        assert_success(&train_folder("flex", model, &data, &out, extra), model);
        out
    })
}

#[test]
fn every_ae_command_works_on_a_folder_run() {
    let root = temp_dir("folder-ae");
    let [conv, vae, dense] = ae_runs(&root);
    let cache = root.join("cache");
    let other = write_folder(
        &root.join("other"),
        &[],
        8,
        Look {
            size: (64, 64),
            colour: false,
            ext: "png",
        },
    );
    let ae = |args: &[&str]| {
        let o = run(env!("CARGO_BIN_EXE_ae"), args, &cache);
        assert_success(&o, &format!("ae {args:?}"));
        text(&o.stdout)
    };
    let c = conv.to_str().unwrap();
    let v = vae.to_str().unwrap();
    ae(&["reconstruct", c]);
    assert_eq!(png_channels(&conv.join("ae/reconstruct.png")), 3);
    ae(&["interpolate", c]);
    let said = ae(&["average", c, "--split", "train"]);
    assert!(said.contains("a (") && said.contains("c ("), "{said}");
    ae(&["latent-map", c]);
    let said = ae(&["probe", c, "--epochs", "2"]);
    assert!(said.contains("| code |"), "{said}");
    let said = ae(&["ood", c, "--against", other.to_str().unwrap()]);
    assert!(said.contains("other"), "{said}");
    let said = ae(&["compress", c, "--limit", "3"]);
    assert!(said.contains("30x45 RGB"), "{said}");
    ae(&["export", c, "--format", "safetensors"]);
    let prefix = conv.join("mine");
    ae(&["encode", c, "--out", prefix.to_str().unwrap()]);
    let codes = prefix.with_extension("npy");
    ae(&["decode", c, codes.to_str().unwrap()]);
    ae(&["features", dense.to_str().unwrap()]);
    assert_eq!(png_channels(&dense.join("ae/features.png")), 3);
    for cmd in [["sample", v], ["manifold", v], ["nll", v]] {
        let mut args = cmd.to_vec();
        if cmd[0] == "nll" {
            args.extend(["--samples", "4", "--limit", "2"]);
        }
        ae(&args);
    }
    assert_eq!(png_channels(&vae.join("ae/sample.png")), 3);
}

/// `train dense-ae --dataset folder` on `data`, expecting failure with `needle`, and no run
/// folder left behind.
fn refused(root: &Path, data: &Path, extra: &[&str], needle: &str) {
    let out = root.join("refused-run");
    let o = train_folder("flex", "dense-ae", data, &out, extra);
    assert_fails(&o, &format!("{} {extra:?}", data.display()), 1, needle);
    assert!(!out.exists(), "{needle}: a run folder was left behind");
}

#[test]
fn bad_folders_and_flags_are_refused_with_one_line() {
    let root = temp_dir("folder-bad");
    let look = Look {
        size: (12, 10),
        colour: false,
        ext: "png",
    };
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not an image").unwrap();
    refused(&root, &empty, &[], "no PNG or JPEG images");
    refused(&root, &root.join("missing"), &[], "missing");
    let single = write_folder(&root.join("single"), &[], 1, look);
    refused(&root, &single, &[], "at least 2");
    let mixed = write_folder(&root.join("mixed"), &[], 4, look);
    save(picture(0, 9, COLOUR_30X45), &mixed.join("big.png"), look);
    refused(&root, &mixed, &[], "--image-size");
    let good = write_folder(&root.join("good"), &[], 6, look);
    for (flags, needle) in [
        (&["--image-size", "0x5"][..], "--image-size"),
        (&["--image-size", "tall"][..], "--image-size"),
        (&["--channels", "2"][..], "--channels 2"),
        (&["--test-fraction", "1.5"][..], "--test-fraction"),
    ] {
        refused(&root, &good, flags, needle);
    }
    // A folder flag without --dataset folder, and --dataset folder without --data-dir.
    let out = root.join("no-folder-run");
    let o = run(
        env!("CARGO_BIN_EXE_train"),
        &[
            "dense-ae",
            "--image-size",
            "8x8",
            "--out",
            out.to_str().unwrap(),
        ],
        &root.join("cache"),
    );
    assert_fails(&o, "--image-size alone", 1, "applies to --dataset folder");
    let o = run(
        env!("CARGO_BIN_EXE_train"),
        &[
            "dense-ae",
            "--dataset",
            "folder",
            "--out",
            out.to_str().unwrap(),
        ],
        &root.join("cache"),
    );
    assert_fails(&o, "no --data-dir", 1, "--data-dir DIR");
    assert!(!out.exists());
}

#[test]
fn broken_files_are_skipped_and_named_or_refused_under_strict() {
    let root = temp_dir("folder-broken");
    let look = Look {
        size: (12, 10),
        colour: false,
        ext: "png",
    };
    let data = write_folder(&root.join("data"), &[], 10, look);
    std::fs::write(data.join("zz-corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(data.join("readme.md"), "ignored").unwrap();
    let out = root.join("run");
    let o = train_folder("flex", "dense-ae", &data, &out, &["--epochs", "1"]);
    assert_success(&o, "a folder with one corrupt file");
    let err = text(&o.stderr);
    assert!(
        err.contains("skipped 1 files") && err.contains("zz-corrupt.png"),
        "{err}"
    );
    assert!(err.contains("10 images"), "{err}");
    refused(&root, &data, &["--strict"], "zz-corrupt.png");
}

#[test]
fn our_kernels_and_burn_s_layers_agree_on_odd_colour_images() {
    let root = temp_dir("folder-kernels");
    let data = write_folder(&root.join("data"), &["x", "y"], 10, COLOUR_30X45);
    let loss = |kernels: &str| {
        let out = root.join(kernels);
        let o = train_folder("flex", "conv-ae", &data, &out, &["--kernels", kernels]);
        assert_success(&o, kernels);
        last_test_loss(&out)
    };
    let (ours, burn) = (loss("ours"), loss("burn"));
    assert!(
        (ours - burn).abs() <= 1e-4 * burn.abs(),
        "ours {ours}, burn {burn}"
    );
}
