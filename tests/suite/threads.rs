//! The binaries run their command on a thread of rayon's pool (`on_compute_pool`): the same
//! losses as on a thread of its own, and no wait on a second thread that is not there.

use crate::common::{temp_dir, tiny_dataset};
use autoencoders::on_compute_pool;
use autoencoders::train::cli::{TrainArgs, run_train};
use clap::Parser;
use std::path::Path;

/// `train conv-ae` (flex, two epochs of the made-up set) into `out`.
fn args(data: &Path, out: &Path) -> TrainArgs {
    let (data, out) = (data.display().to_string(), out.display().to_string());
    TrainArgs::parse_from([
        "train",
        "conv-ae",
        "--backend",
        "flex",
        "--no-dashboard",
        "--epochs",
        "2",
        "--data-dir",
        &data,
        "--out",
        &out,
    ])
}

/// Every column of metrics.csv but the times, as written.
fn losses(out: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    csv.lines()
        .map(|line| {
            line.split(',')
                .zip(&header)
                .filter(|(_, h)| !h.ends_with("seconds"))
                .map(|(v, _)| v.to_string())
                .collect()
        })
        .collect()
}

#[test]
fn training_on_a_pool_thread_gives_the_same_losses_and_needs_no_second_thread() {
    let dir = temp_dir("threads");
    let data = tiny_dataset(&dir.join("data"), 96, 32);
    let (own, pooled, single) = (dir.join("own"), dir.join("pooled"), dir.join("single"));
    // On the test's own thread, as the binaries ran before; then on a thread of the global pool.
    run_train(&args(&data, &own)).unwrap();
    on_compute_pool(|| run_train(&args(&data, &pooled))).unwrap();
    assert_eq!(losses(&own), losses(&pooled));
    // On the only thread of a one-thread pool: an op that waited for another thread of the
    // pool to take a share of its work would never end (the test would hang, not pass). The
    // ops split their work by sizes, not by threads, so the losses are the same again.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| on_compute_pool(|| run_train(&args(&data, &single))))
        .unwrap();
    assert_eq!(losses(&own), losses(&single));
}
