//! The end-to-end suite, one test binary (each binary links all of Burn): models on every
//! backend, the `train` command, and a quality check on real MNIST.

mod common;

mod cli;
mod models;
mod quality;
