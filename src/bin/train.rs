//! `train <model>`: trains an autoencoder and fills its run folder.

use autoencoders::train::cli::{TrainArgs, run_train};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    autoencoders::tune_allocator();
    autoencoders::flush_subnormals();
    if std::env::var_os("BURN_DEVICE").is_none() {
        // Burn builds a resumed optimizer's state on its default device before moving it to the
        // model's; by default that is a GPU backend, which would start Vulkan (or fail without
        // it) on a CPU run. The CPU default is always there, and the state moves on to any device.
        // SAFETY: first thing in `main`, before any thread exists that could read the environment.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    let args = TrainArgs::parse();
    match autoencoders::on_compute_pool(|| run_train(&args)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => autoencoders::report_error(&err),
    }
}
