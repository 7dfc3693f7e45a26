//! ae-kernels in the models: dense-ae and the VAE (the fused BCE loss), conv-ae, the conv
//! denoising-ae and the conv VAE (convolutions and max-pooling too), and the wide conv net
//! (transposed convolutions too) train to the same figures
//! with our kernels (`--kernels ours`, the default) as with Burn's ops (`--kernels burn`), on
//! every backend (on wgpu our CubeCL kernels for the convolution, the max-pool, the loss and,
//! since 2026-12-07, the transposed convolution).

use crate::backend_test;
use crate::cli::{assert_success, strs, train_args, train_in};
use crate::common::{temp_dir, tiny_dataset};
use autoencoders::train::epoch_log::from_csv;
use std::path::Path;

/// Every figure of every epoch in a run's metrics.csv, seconds left out.
fn figures(run: &Path, names: &[&str]) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    from_csv(&text, names)
        .unwrap()
        .iter()
        .flat_map(|r| names.iter().flat_map(|n| [r.train[*n], r.test[*n]]))
        .collect()
}

backend_test!(fn models_train_alike_with_our_kernels_and_burn_s_ops(backend) {
    let root = temp_dir(&format!("kernels-{}", backend.as_str()));
    let data = tiny_dataset(&root, 96, 32);
    let autotune = format!("ae-suite-kernels-{}", backend.as_str());
    let cases: [(&str, &[&str], &[&str]); 6] = [
        ("dense-ae", &[], &["Loss"]),
        ("vae", &["--latent-dim", "4"], &["Loss", "Reconstruction", "KL"]),
        ("conv-ae", &[], &["Loss"]),
        ("denoising-ae", &[], &["Loss"]),
        ("vae", &["--arch", "conv", "--latent-dim", "4"], &["Loss", "Reconstruction", "KL"]),
        ("conv-ae", &["--arch", "wide"], &["Loss"]),
    ];
    for (i, (model, extra, names)) in cases.into_iter().enumerate() {
        let run = |kernels: &str| {
            let out = root.join(format!("{i}-{model}-{kernels}"));
            let mut a = train_args(model, &data, &out, &["--epochs", "2", "--batch-size", "16", "--kernels", kernels]);
            a.extend(extra.iter().map(|s| s.to_string()));
            a[2] = backend.as_str().into();
            assert_success(&train_in(&strs(&a), Some(&autotune)));
            figures(&out, names)
        };
        let (ours, burn) = (run("ours"), run("burn"));
        assert_eq!(ours.len(), burn.len());
        for (a, b) in ours.iter().zip(&burn) {
            let tolerance = 1e-4 * b.abs().max(1.0);
            assert!((a - b).abs() <= tolerance, "{model} on {}: {ours:?} vs {burn:?}", backend.as_str());
        }
    }
});
