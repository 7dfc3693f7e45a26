//! `train <model>`: trains an autoencoder and fills its run folder.

use autoencoders::cli::{TrainArgs, run_train};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = TrainArgs::parse();
    match run_train(&args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => autoencoders::report_error(&err),
    }
}
