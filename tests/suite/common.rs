//! Shared by the suite: which backends this run covers, and a tiny made-up data set.
//!
//! `AE_TEST_BACKENDS=flex,ndarray,wgpu` lists the backends; unset, it is the CPU ones plus wgpu
//! when wgpu finds an adapter, and the run says what it left out. Under `CI` the list must be
//! given, so nothing is left out silently.

use ae_data::idx;
use autoencoders::backend::{self, BackendChoice};
use burn::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The backends this run covers.
pub fn backends() -> &'static [BackendChoice] {
    static LIST: OnceLock<Vec<BackendChoice>> = OnceLock::new();
    LIST.get_or_init(|| match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| BackendChoice::parse(s).unwrap_or_else(|e| panic!("AE_TEST_BACKENDS: {e}")))
            .collect(),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "under CI, AE_TEST_BACKENDS must list the backends to test"
            );
            let mut list = vec![BackendChoice::Flex, BackendChoice::Ndarray];
            if backend::wgpu_adapters().is_empty() {
                eprintln!("NOTE: wgpu tests left out: no wgpu adapter on this machine");
            } else {
                list.push(BackendChoice::Wgpu);
            }
            list
        }
    })
}

/// Whether `backend` is covered; prints a note when it is not.
pub fn covers(backend: BackendChoice, test: &str) -> bool {
    let yes = backends().contains(&backend);
    if !yes {
        eprintln!(
            "NOTE: {test} on {} left out (not in this run's backend list)",
            backend.as_str()
        );
    }
    yes
}

/// The device of `backend`.
pub fn device(backend: BackendChoice) -> Device {
    backend::resolve(backend)
        .unwrap_or_else(|e| {
            panic!(
                "backend {} is in the list but unusable: {e:#}",
                backend.as_str()
            )
        })
        .device
}

/// Writes a test once, runs it on every backend: `backend_test!(fn name(backend) { body })`
/// makes `name::flex`, `name::ndarray` and `name::wgpu`.
#[macro_export]
macro_rules! backend_test {
    (fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use autoencoders::backend::BackendChoice;

            fn run($backend: BackendChoice) $body

            #[test]
            fn flex() {
                if $crate::common::covers(BackendChoice::Flex, stringify!($name)) {
                    run(BackendChoice::Flex);
                }
            }

            #[test]
            fn ndarray() {
                if $crate::common::covers(BackendChoice::Ndarray, stringify!($name)) {
                    run(BackendChoice::Ndarray);
                }
            }

            #[test]
            fn wgpu() {
                if $crate::common::covers(BackendChoice::Wgpu, stringify!($name)) {
                    run(BackendChoice::Wgpu);
                }
            }
        }
    };
}

/// A fresh empty folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ae-suite-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A made-up 28x28 image of class `label`: a bright bar whose place and angle depend on the
/// class, with a little variation from `i`.
pub fn synthetic_image(label: usize, i: usize) -> Vec<u8> {
    let mut img = vec![0u8; 784];
    let offset = (i % 3) as isize - 1;
    for t in 4..24isize {
        let (r, c) = match label % 4 {
            0 => (t, 6 + 2 * (label as isize) / 4 + offset),
            1 => (10 + offset + (label as isize) / 4, t),
            2 => (t, t + offset),
            _ => (t, 27 - t + offset),
        };
        for dc in 0..2 {
            let (r, c) = (r.clamp(0, 27) as usize, (c + dc).clamp(0, 27) as usize);
            img[r * 28 + c] = 255;
        }
    }
    img
}

/// Writes a small MNIST-shaped data set (`n_train` and `n_test` images) into `dir/mnist/`, and
/// returns `dir`.
pub fn tiny_dataset(dir: &Path, n_train: usize, n_test: usize) -> PathBuf {
    write_images(&dir.join("mnist"), n_train, n_test, |p| p);
    dir.to_path_buf()
}

/// Writes the made-up images, each pixel passed through `shade`, and their labels as the four
/// IDX files of an MNIST-like set in `set_dir`.
pub fn write_images(set_dir: &Path, n_train: usize, n_test: usize, shade: fn(u8) -> u8) {
    std::fs::create_dir_all(set_dir).unwrap();
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> = (0..n)
            .flat_map(|i| synthetic_image(i % 10, i))
            .map(shade)
            .collect();
        let write =
            |stem: String, bytes: Vec<u8>| std::fs::write(set_dir.join(stem), bytes).unwrap();
        write(
            format!("{prefix}-images-idx3-ubyte"),
            idx::encode(&[n as u32, 28, 28], &pixels),
        );
        write(
            format!("{prefix}-labels-idx1-ubyte"),
            idx::encode(&[n as u32], &labels),
        );
    }
}

/// A `[n, 1, 28, 28]` batch of synthetic images on `device`.
pub fn synthetic_batch(n: usize, device: &Device) -> Tensor<4> {
    let pixels: Vec<f32> = (0..n)
        .flat_map(|i| synthetic_image(i % 10, i))
        .map(|p| f32::from(p) / 255.0)
        .collect();
    Tensor::from_data(TensorData::new(pixels, [n, 1, 28, 28]), device)
}

/// Per-pixel binary cross-entropy of predicting the mean training image for every test image
/// of the made-up set that `tiny_dataset(_, n_train, n_test)` writes: the score of a model that
/// ignores its input, which a trained model must beat.
pub fn mean_image_bce(n_train: usize, n_test: usize) -> f64 {
    let mut mean = vec![0f64; 784];
    for i in 0..n_train {
        for (m, &p) in mean.iter_mut().zip(&synthetic_image(i % 10, i)) {
            *m += f64::from(p) / 255.0 / n_train as f64;
        }
    }
    let eps = 1e-7;
    let mut sum = 0.0;
    for i in 0..n_test {
        for (&m, &p) in mean.iter().zip(&synthetic_image(i % 10, i)) {
            let (m, t) = (m.clamp(eps, 1.0 - eps), f64::from(p) / 255.0);
            sum -= t * m.ln() + (1.0 - t) * (1.0 - m).ln();
        }
    }
    sum / (n_test * 784) as f64
}
