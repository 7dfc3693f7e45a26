//! Runs stopped from outside, as the README's "When things go wrong" table promises: Ctrl-C
//! (SIGINT) without the dashboard acts as a kill, and `q`, `s` in the dashboard (driven through
//! tmux, which gives it a terminal) stops after the current step and saves its weights; both
//! runs then go on with `--resume`.

use crate::cli::{assert_success, text, train};
use crate::common::{temp_dir, tiny_dataset};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Epochs asked for: far more than run before the stop arrives. An epoch of the tiny set takes
/// about a tenth of a second, so with 20 a loaded machine once let the whole run finish before
/// the Ctrl-C landed (2026-12-06), and the test read that as a stop that failed.
const EPOCHS: usize = 500;

/// Epochs finished so far in a run folder (rows of its metrics.csv).
fn epochs_done(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

/// Waits until the run in `out` has finished an epoch and its checkpoint.
fn wait_for_first_epoch(out: &Path, alive: &mut dyn FnMut() -> bool) {
    let started = Instant::now();
    while epochs_done(out) == 0 || !out.join("checkpoint/optim-1.bpk").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "epoch 1 never finished"
        );
        assert!(alive(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Into epoch 2.
    std::thread::sleep(Duration::from_millis(300));
}

fn args(data: &Path, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "dense-ae",
        "--backend",
        "flex",
        "--batch-size",
        "32",
        "--epochs",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(EPOCHS.to_string());
    a.extend([
        "--data-dir".into(),
        data.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]);
    a
}

fn resume_finishes(data: &Path, out: &Path) {
    let done = epochs_done(out);
    assert!(done >= 1);
    let mut a = args(data, out);
    let at = a.iter().position(|s| *s == EPOCHS.to_string()).unwrap();
    a[at] = (done + 1).to_string();
    a.extend(["--resume".into(), "--no-dashboard".into()]);
    let o = train(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_success(&o);
    let stderr = text(&o.stderr);
    let from = [done, done - 1].map(|k| format!("after epoch {k} of {}", done + 1));
    assert!(from.iter().any(|s| stderr.contains(s.as_str())), "{stderr}");
    assert_eq!(epochs_done(out), done + 1);
    assert!(out.join("model.bpk").exists());
}

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(name);
    let data = tiny_dataset(&root, 20_000, 500);
    (data, root.join("run"))
}

#[test]
fn ctrl_c_without_the_dashboard_acts_as_a_kill_and_resume_goes_on() {
    let (data, out) = setup("ctrl-c");
    let mut a = args(&data, &out);
    a.push("--no-dashboard".into());
    let mut child = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(&a)
        .env_remove("AE_DATA_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_first_epoch(&out, &mut || child.try_wait().unwrap().is_none());
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "the interrupted run reported success");
    assert!(epochs_done(&out) < EPOCHS, "the run was not stopped");
    resume_finishes(&data, &out);
}

#[test]
fn q_in_the_dashboard_saves_the_step_s_weights_and_resume_goes_on() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
        eprintln!("NOTE: the dashboard's q left out: tmux is not installed");
        return;
    }
    let (data, out) = setup("dashboard-q");
    let session = format!("ae-suite-q-{}", std::process::id());
    let exit_file = out.with_file_name("exit-code");
    let line = format!(
        "{} {}; echo $? > {}",
        env!("CARGO_BIN_EXE_train"),
        args(&data, &out).join(" "),
        exit_file.display()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(args)
            .env_remove("TMUX")
            .status()
            .unwrap()
    };
    assert!(
        tmux(&[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "48",
            &line
        ])
        .success()
    );
    let mut alive = || !exit_file.exists();
    wait_for_first_epoch(&out, &mut alive);
    // `q` opens Burn's quit menu; `s` there stops the training after the current step. When
    // the dashboard then shows "Training is done", `x` closes that and `q` leaves.
    assert!(tmux(&["send-keys", "-t", &session, "q"]).success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(tmux(&["send-keys", "-t", &session, "s"]).success());
    let started = Instant::now();
    let mut closing = Instant::now();
    while !exit_file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "q, s did not stop the run"
        );
        if closing.elapsed() > Duration::from_secs(2) {
            tmux(&["send-keys", "-t", &session, "x"]);
            std::thread::sleep(Duration::from_millis(200));
            tmux(&["send-keys", "-t", &session, "q"]);
            closing = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = tmux(&["kill-session", "-t", &session]);
    let code = std::fs::read_to_string(&exit_file).unwrap();
    assert_eq!(code.trim(), "0", "train's exit code after q");
    assert!(epochs_done(&out) < EPOCHS, "the run was not stopped");
    assert!(out.join("model.bpk").exists(), "q saved no weights");
    resume_finishes(&data, &out);
}
