//! `ae <command> <run>`: uses a trained autoencoder (see `ae --help`).

use autoencoders::ae::{AeArgs, run};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    autoencoders::tune_allocator();
    autoencoders::flush_subnormals();
    let args = AeArgs::parse();
    match autoencoders::on_compute_pool(|| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => autoencoders::report_error(&err),
    }
}
