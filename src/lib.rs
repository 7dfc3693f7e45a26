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

/// Keeps glibc's allocator from handing every large buffer back to the kernel when it is freed
/// and faulting fresh zeroed pages in for the next: a training step allocates and frees the
/// same few-megabyte tensors hundreds of times an epoch, and by default each of them is a fresh
/// `mmap` (above 128 KiB) whose pages are faulted and zeroed again. Buffers up to 32 MiB (the
/// most glibc allows) come from the heap instead, and the heap is not trimmed. Measured on
/// conv-ae (flex, 2 cores, 2026-12-01): 4.5 s -> 2.6 s per 12,800-image epoch. Call it first
/// thing in `main`; it changes nothing but where memory comes from.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of the allocator's thresholds; it is called before any
    // thread that allocates exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Prints an error as one line (`error: outer: inner: ...`) and returns exit code 1.
pub fn report_error(err: &anyhow::Error) -> std::process::ExitCode {
    let msg = format!("{err:#}").replace('\n', " ");
    eprintln!("error: {msg}");
    std::process::ExitCode::FAILURE
}
