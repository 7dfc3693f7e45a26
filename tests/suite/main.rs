//! The end-to-end suite, one test binary (each binary links all of Burn): models on every
//! backend, the `train` command, the toy sets and pictures of the model family, and quality
//! checks on real MNIST.

mod common;

mod ae;
mod agreement;
mod agreement_runs;
mod bad_input;
mod bad_input_sizes;
mod binarize;
mod cli;
mod export;
mod family;
mod folders;
mod interrupts;
mod kernels;
mod launches;
mod models;
mod nll;
mod quality;
mod resume;
mod resume_draws;
mod threads;
mod wide;
