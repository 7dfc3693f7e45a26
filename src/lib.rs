//! `autoencoders`: the application around `ae-data` and `ae-models`: the command line, the
//! choice of backend, training with Burn's Learner and dashboard, the run folder and pictures.

pub mod ae;
pub mod backend;
pub mod config;
pub mod eval;
pub mod input;
pub mod picture;
pub mod preflight;
pub mod run_dir;
pub mod speed;
pub mod train;

/// Prints an error as one line (`error: outer: inner: ...`) and returns exit code 1.
pub fn report_error(err: &anyhow::Error) -> std::process::ExitCode {
    let msg = format!("{err:#}").replace('\n', " ");
    eprintln!("error: {msg}");
    std::process::ExitCode::FAILURE
}
