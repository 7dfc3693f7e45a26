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

/// Sets the CPU's flush-to-zero and denormals-are-zero modes (bits 15 and 6 of x86-64's MXCSR)
/// on this thread and on every thread of rayon's global pool, where Burn's CPU backends and
/// our kernels compute: subnormal floats (below about 1.2e-38) are read and written as 0.
/// Intel cores take a slow path for every operation on a subnormal, and Adam's moments of the
/// parameters whose gradients fade (MNIST's always-black border pixels) decay into that range:
/// on a 2-core Xeon (2026-12-03) three VAE epochs took 5.6, 6.8, 9.3 s without and 5.9, 5.6,
/// 5.6 s with, the same losses in `metrics.csv`. Call it first thing in `main`, before rayon's
/// pool exists (if it already does, only this thread is set); elsewhere than on x86-64 it does
/// nothing.
pub fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    {
        fn set() {
            let mut csr: u32 = 0;
            // SAFETY: `stmxcsr` stores this thread's SSE control register into `csr` and
            // `ldmxcsr` loads it back with two mode bits set; neither touches other memory.
            unsafe {
                std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
                csr |= (1 << 15) | (1 << 6);
                std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
            }
        }
        set();
        // An error only means the pool exists already; this thread is set either way.
        let _ = rayon::ThreadPoolBuilder::new()
            .start_handler(|_| set())
            .build_global();
    }
}

/// Runs `f` on a thread of rayon's global pool, the calling thread waiting for it: the
/// binaries run their whole command so. Burn's CPU backends and our kernels split every
/// operation over that pool; called from a thread outside it, each split wakes the pool and puts
/// the caller to sleep until the pool is done (a futex wait and wake-up per operation, hundreds
/// a training step), while from a thread of the pool the caller takes a share of the work itself
/// and waits by spinning. Measured on the 2-core Xeon (2026-12-04, `train <model> --backend
/// flex`, epochs 2-3, builds alternating): dense-ae 0.39-0.45 -> 0.31-0.33 s, deep-ae
/// 0.93-0.99 -> 0.73-0.79 s, vae 2.42-2.50 -> 2.04-2.08 s, conv-ae (20,000 images) 3.08-3.32
/// -> 2.86-2.89 s, with the same losses to the last digit. Work that waits on anything but
/// the pool's own jobs would hold a thread the pool needs; nothing in these commands does
/// (`tests/suite/threads.rs` trains on a one-thread pool).
pub fn on_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// Prints an error as one line (`error: outer: inner: ...`) and returns exit code 1.
pub fn report_error(err: &anyhow::Error) -> std::process::ExitCode {
    let msg = format!("{err:#}").replace('\n', " ");
    eprintln!("error: {msg}");
    std::process::ExitCode::FAILURE
}
