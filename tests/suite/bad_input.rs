//! The bad-input corpus: broken IDX files, broken config files and bad flags, each made here
//! (nothing downloaded). Every case must end in one `error:` line naming the problem and a
//! non-zero exit, with no panic and no backtrace; each test asserts on the message.

use crate::cli::{assert_success, strs, text, train, train_args};
use crate::common::{temp_dir, tiny_dataset};
use ae_data::idx;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Checks that `o` is a clean failure with exit `code` whose stderr contains `needle`.
pub fn assert_fails(o: &Output, what: &str, code: i32, needle: &str) {
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{what}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{what}: expected {needle:?} in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{what}: {stderr}"
    );
    // clap's usage errors (exit 2) too: one `error:` line, then usage and a hint.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: one error line: {stderr}");
}

/// Runs `train` with `args`, expecting failure (see [`assert_fails`]).
pub fn fails_with(args: &[&str], code: i32, needle: &str) {
    assert_fails(&train(args), &format!("{args:?}"), code, needle);
}

/// `train dense-ae` on flex with the data in `data` and the run in `out`, plus `extra`.
fn dense_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    train_args("dense-ae", data, out, extra)
}

/// Whether this process runs as root, for whom file permissions do not apply.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Runs `train` as an unprivileged user: as `nobody` through `setpriv` when this process is
/// root (permissions would not stop root), else as ourselves.
fn train_unprivileged(args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_train");
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .env_remove("AE_DATA_DIR")
        .env("AE_DATA_MIRROR", "http://127.0.0.1:9")
        .env("HOME", "/nonexistent")
        .output()
        .expect("setpriv (util-linux) is needed to test permissions when running as root")
}

/// A tiny data set whose `file` (in `mnist/`) is replaced by what `spoil` leaves there.
fn spoiled(name: &str, file: &str, spoil: impl FnOnce(&Path)) -> (PathBuf, PathBuf) {
    let root = temp_dir(&format!("bad-idx-{name}"));
    let data = tiny_dataset(&root, 20, 10);
    let path = data.join("mnist").join(file);
    std::fs::remove_file(&path).unwrap();
    spoil(&path);
    (data, root.join("out"))
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";

/// The header of a rank-3 unsigned-byte IDX file with dimensions `dims`.
fn header(dims: [u32; 3]) -> Vec<u8> {
    let mut h = vec![0, 0, 0x08, 3];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

/// Puts a broken file in place of a good one.
type Spoil<'a> = Box<dyn FnOnce(&Path) + 'a>;

#[test]
fn broken_idx_files_are_named_with_their_defect() {
    let images = |n: u32| idx::encode(&[n, 28, 28], &vec![0u8; n as usize * 784]);
    let cases: Vec<(&str, &str, Spoil<'_>, &str)> = vec![
        (
            "empty",
            TRAIN_IMAGES,
            Box::new(|p| std::fs::write(p, b"").unwrap()),
            "train-images-idx3-ubyte: not a valid IDX file: the file is empty",
        ),
        (
            "truncated-header",
            TRAIN_IMAGES,
            Box::new(|p| std::fs::write(p, [0, 0, 8, 3, 0, 0, 0]).unwrap()),
            "truncated header: 16 bytes needed, 7 present",
        ),
        (
            "wrong-magic",
            TRAIN_IMAGES,
            Box::new(|p| {
                let mut b = images(20);
                b[0] = 0x50;
                std::fs::write(p, b).unwrap()
            }),
            "bad magic number 0x50000803",
        ),
        (
            "wrong-dtype",
            TRAIN_IMAGES,
            Box::new(|p| {
                let mut b = images(20);
                b[2] = 0x0D;
                std::fs::write(p, b).unwrap()
            }),
            "unsupported element type code 0x0d (only 0x08, unsigned byte, is supported)",
        ),
        (
            "wrong-rank",
            TRAIN_LABELS,
            Box::new(|p| std::fs::write(p, images(20)).unwrap()),
            "train-labels-idx1-ubyte: not a valid IDX file: rank 3, expected 1",
        ),
        (
            "dims-overflow",
            TRAIN_IMAGES,
            Box::new(|p| std::fs::write(p, header([u32::MAX; 3])).unwrap()),
            "bad dimensions [4294967295, 4294967295, 4294967295]",
        ),
        (
            "claims-more-than-present",
            TRAIN_IMAGES,
            Box::new(|p| {
                let mut b = header([1000, 28, 28]);
                b.extend(vec![0u8; 20 * 784]);
                std::fs::write(p, b).unwrap()
            }),
            "truncated data: 784000 bytes announced by the header, 15680 present",
        ),
        (
            "trailing-bytes",
            TRAIN_IMAGES,
            Box::new(|p| {
                let mut b = images(20);
                b.extend([1, 2, 3]);
                std::fs::write(p, b).unwrap()
            }),
            "3 unexpected bytes after the data",
        ),
        (
            "count-mismatch",
            TRAIN_IMAGES,
            Box::new(|p| std::fs::write(p, images(19)).unwrap()),
            "19 images but 20 labels",
        ),
        (
            "corrupt-gzip",
            TRAIN_IMAGES,
            Box::new(|p| {
                let gz = p.with_file_name(format!("{TRAIN_IMAGES}.gz"));
                std::fs::write(gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad]).unwrap()
            }),
            "train-images-idx3-ubyte.gz: corrupt gzip data",
        ),
        (
            "a-directory",
            TRAIN_IMAGES,
            Box::new(|p| std::fs::create_dir(p).unwrap()),
            "train-images-idx3-ubyte: not a regular file",
        ),
    ];
    for (name, file, spoil, needle) in cases {
        let (data, out) = spoiled(name, file, spoil);
        let args = dense_args(&data, &out, &["--epochs", "1"]);
        assert_fails(&train(&strs(&args)), name, 1, needle);
    }
}

#[test]
fn unreadable_files_and_folders_are_refused_by_name() {
    // A data file nobody may read.
    let (data, _) = spoiled("unreadable", TRAIN_LABELS, |p| {
        std::fs::write(p, idx::encode(&[20], &[0u8; 20])).unwrap();
        set_mode(p, 0o000);
    });
    let root = data.clone();
    set_mode(&root, 0o777);
    let out = root.join("out");
    let args = dense_args(&data, &out, &["--epochs", "1"]);
    assert_fails(
        &train_unprivileged(&strs(&args)),
        "unreadable",
        1,
        "train-labels-idx1-ubyte: cannot read: Permission denied",
    );

    // A run folder nobody may write into.
    let locked = root.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    set_mode(&locked, 0o555);
    let args = dense_args(&data, &locked.join("run"), &["--epochs", "1"]);
    assert_fails(
        &train_unprivileged(&strs(&args)),
        "out-not-writable",
        1,
        "cannot create the folder",
    );
    let args = dense_args(&data, &locked, &["--epochs", "1"]);
    assert_fails(
        &train_unprivileged(&strs(&args)),
        "out-not-writable",
        1,
        "is not writable",
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn broken_config_files_are_named_with_their_defect() {
    let root = temp_dir("bad-config");
    let data = tiny_dataset(&root, 20, 10);
    let good: serde_json::Value =
        serde_json::from_str(autoencoders::config::ModelName::DenseAe.default_config_text())
            .unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing-field",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("epochs");
            }),
            "missing field `epochs`",
        ),
        (
            "wrong-type",
            edit(&|v| v["epochs"] = "ten".into()),
            "invalid type: string \"ten\", expected usize",
        ),
        (
            "negative-size",
            edit(&|v| v["batch_size"] = (-8).into()),
            "invalid value: integer `-8`, expected usize",
        ),
        (
            "zero-size",
            edit(&|v| v["network"]["latent_dim"] = 0.into()),
            "latent_dim must be at least 1",
        ),
        (
            "zero-batch",
            edit(&|v| v["batch_size"] = 0.into()),
            "batch size must be at least 1",
        ),
        (
            "unknown-model",
            edit(&|v| v["model"] = "gan-ae".into()),
            "unknown variant `gan-ae`",
        ),
        (
            "unknown-field",
            edit(&|v| v["learning_rate"] = 0.1.into()),
            "unknown field `learning_rate`",
        ),
        ("not-json", "epochs = 3".to_string(), "expected value"),
    ];
    for (name, body, needle) in cases {
        let file = root.join(format!("{name}.json"));
        std::fs::write(&file, body).unwrap();
        let out = root.join(format!("out-{name}"));
        let mut args = dense_args(&data, &out, &["--config"]);
        args.push(file.display().to_string());
        let o = train(&strs(&args));
        assert_fails(&o, name, 1, needle);
        // The message names the file.
        assert_fails(&o, name, 1, &file.display().to_string());
    }
}

#[test]
fn bad_flags_give_one_clear_error_and_a_non_zero_exit() {
    let root = temp_dir("bad-flags");
    let data = tiny_dataset(&root, 20, 10);
    let out = root.join("out");
    let o = out.to_str().unwrap();
    let run = |extra: &[&str], code, needle| {
        let args = dense_args(&data, &out, extra);
        fails_with(&strs(&args), code, needle);
    };
    fails_with(&["vae-x"], 2, "invalid value 'vae-x'");
    fails_with(&["dense-ae", "--backend", "tpu"], 2, "invalid value 'tpu'");
    if !cfg!(feature = "cuda") {
        // A backend this build leaves out says how to get it.
        let d = data.display().to_string();
        let args = [
            "dense-ae",
            "--backend",
            "cuda",
            "--data-dir",
            &d,
            "--out",
            o,
        ];
        fails_with(&args, 1, "this build has no CUDA backend; build with");
        assert!(
            !out.exists(),
            "no run folder is made for a run that cannot start"
        );
    }
    run(&["--epochs", "-1"], 2, "unexpected argument '-1' found");
    run(&["--batch-size", "0"], 1, "batch size must be at least 1");
    run(&["--epochs", "0"], 1, "epochs must be at least 1");
    run(&["--lr", "0"], 1, "learning rate must be a positive number");
    run(
        &["--lr", "-0.1"],
        1,
        "learning rate must be a positive number",
    );
    run(
        &["--lr", "NaN"],
        1,
        "learning rate must be a positive number",
    );
    run(&["--latent-dim", "0"], 1, "latent_dim must be at least 1");
    run(&["--limit", "0"], 1, "--limit must be at least 1");
    run(
        &["--config", "/nonexistent/c.json"],
        1,
        "cannot read config file /nonexistent/c.json",
    );
    fails_with(
        &["conv-ae", "--latent-dim", "8", "--backend", "flex"],
        1,
        "--latent-dim, --hidden and --overcomplete apply to dense models",
    );
    fails_with(
        &[
            "dense-ae",
            "--backend",
            "flex",
            "--data-dir",
            "/nonexistent-data",
            "--out",
            o,
        ],
        1,
        "--data-dir /nonexistent-data: no mnist files",
    );
    run(
        &["--hidden", "12,x"],
        1,
        "--hidden 12,x: 'x' is not a width",
    );
    run(&["--latent-dim", "900"], 1, "pass --overcomplete");
    run(
        &["--noise", "gaussian"],
        1,
        "apply to denoising-ae, not dense-ae",
    );
    fails_with(
        &["sparse-ae", "--rho", "1.5", "--backend", "flex"],
        1,
        "rho must be strictly between 0 and 1",
    );
    fails_with(
        &["linear-ae", "--loss", "bce", "--backend", "flex"],
        1,
        "binary cross-entropy needs a sigmoid output",
    );
    let a_file = root.join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    let args = dense_args(&data, &a_file, &[]);
    fails_with(&strs(&args), 1, "exists and is not a folder");
    let wrong_model = root.join("conv.json");
    std::fs::write(
        &wrong_model,
        autoencoders::config::ModelName::ConvAe.default_config_text(),
    )
    .unwrap();
    run(
        &["--config", wrong_model.to_str().unwrap()],
        1,
        "configures conv-ae, not dense-ae",
    );

    // A finished run is not overwritten by accident.
    let ok = dense_args(&data, &out, &["--epochs", "1"]);
    assert_success(&train(&strs(&ok)));
    run(
        &["--epochs", "1"],
        1,
        "already holds a run; pass --overwrite",
    );
    let mut again = ok.clone();
    again.push("--overwrite".into());
    assert_success(&train(&strs(&again)));
}
