//! `ae export`: the safetensors file read back with a reader written here, its names and
//! shapes those of the PyTorch peers, and a forward pass computed by hand from its tensors that
//! gives the test loss `ae reconstruct` reports.

use crate::ae::{args, data, dense, number_after, ok};
use crate::cli::{assert_success, train};
use crate::common::temp_dir;
use ae_data::ImageSet;
use std::collections::BTreeMap;
use std::path::Path;

/// name -> (shape, values) of a safetensors file of f32 tensors.
fn read_safetensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut out = BTreeMap::new();
    for (name, t) in header.as_object().unwrap() {
        if name == "__metadata__" {
            continue;
        }
        assert_eq!(t["dtype"], "F32", "{name}");
        let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).unwrap();
        let [a, b]: [usize; 2] = serde_json::from_value(t["data_offsets"].clone()).unwrap();
        let values: Vec<f32> = data[a..b]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(values.len(), shape.iter().product::<usize>(), "{name}");
        out.insert(name.clone(), (shape, values));
    }
    out
}

/// name -> shape of every tensor in a safetensors file of f32 tensors.
pub(crate) fn safetensors_shapes(path: &Path) -> BTreeMap<String, Vec<usize>> {
    read_safetensors(path)
        .into_iter()
        .map(|(name, (shape, _))| (name, shape))
        .collect()
}

/// `y = W x + b` with PyTorch's `[out, in]` weight.
fn linear(t: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, i: usize, x: &[f64]) -> Vec<f64> {
    let (shape, w) = &t[&format!("{i}.weight")];
    let (_, b) = &t[&format!("{i}.bias")];
    let [outputs, inputs] = [shape[0], shape[1]];
    assert_eq!(inputs, x.len());
    (0..outputs)
        .map(|o| {
            f64::from(b[o])
                + (0..inputs)
                    .map(|j| f64::from(w[o * inputs + j]) * x[j])
                    .sum::<f64>()
        })
        .collect()
}

#[test]
fn a_dense_export_computes_by_hand_the_loss_ae_reconstruct_reports() {
    let run = dense();
    let file = run.join("exported.safetensors");
    ok(&args("export", run, &["--out", file.to_str().unwrap()]));
    let t = read_safetensors(&file);
    // torch_ae.py's dense(): Linear, ReLU, Linear (8-number code, no hidden layer).
    let names: Vec<&str> = t.keys().map(String::as_str).collect();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    assert_eq!(t["0.weight"].0, [8, 784]);
    assert_eq!(t["2.weight"].0, [784, 8]);
    // BCE with logits per pixel over the test images, by hand, in f64.
    let dir = data().join("mnist");
    let set = ImageSet::from_files(
        &dir.join("t10k-images-idx3-ubyte"),
        &dir.join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    let (mut sum, mut count) = (0.0, 0usize);
    for i in 0..set.len() {
        let x: Vec<f64> = set.image(i).iter().map(|&p| f64::from(p) / 255.0).collect();
        let code: Vec<f64> = linear(&t, 0, &x).into_iter().map(|v| v.max(0.0)).collect();
        for (z, target) in linear(&t, 2, &code).into_iter().zip(&x) {
            sum += z.max(0.0) - z * target + (-z.abs()).exp().ln_1p();
            count += 1;
        }
    }
    let by_hand = sum / count as f64;
    let reported = number_after(&ok(&args("reconstruct", run, &[])), "test loss");
    assert!(
        (by_hand - reported).abs() <= 1e-4 * reported,
        "by hand {by_hand} vs ae reconstruct {reported}"
    );
}

#[test]
fn conv_and_vae_exports_carry_the_peer_modules_names_and_shapes() {
    let root = temp_dir("export-conv");
    let out = root.join("conv");
    let d = data().to_str().unwrap();
    let o = out.to_str().unwrap();
    let a = [
        "conv-ae",
        "--backend",
        "flex",
        "--data-dir",
        d,
        "--out",
        o,
        "--epochs",
        "1",
        "--no-dashboard",
    ];
    assert_success(&train(&a));
    let file = root.join("conv.safetensors");
    ok(&args("export", &out, &["--out", file.to_str().unwrap()]));
    let t = read_safetensors(&file);
    // torch_ae.py's conv(): child 3 i is the i-th convolution ([out, in, 3, 3]).
    let expected = [
        (0, 16, 1),
        (3, 8, 16),
        (6, 8, 8),
        (9, 8, 8),
        (12, 8, 8),
        (15, 16, 8),
        (18, 1, 16),
    ];
    assert_eq!(t.len(), 2 * expected.len());
    for (i, o, c) in expected {
        assert_eq!(t[&format!("{i}.weight")].0, [o, c, 3, 3], "{i}");
        assert_eq!(t[&format!("{i}.bias")].0, [o], "{i}");
    }
    // The 2-D VAE of the ae tests: torch_ae.Vae's enc, mu, logvar, dec, out.
    let vae = crate::ae::vae();
    let file = root.join("vae.safetensors");
    ok(&args("export", vae, &["--out", file.to_str().unwrap()]));
    let t = read_safetensors(&file);
    let shapes: Vec<(&str, &[usize])> = t
        .iter()
        .map(|(k, v)| (k.as_str(), v.0.as_slice()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("dec.bias", &[400][..]),
            ("dec.weight", &[400, 2]),
            ("enc.bias", &[400]),
            ("enc.weight", &[400, 784]),
            ("logvar.bias", &[2]),
            ("logvar.weight", &[2, 400]),
            ("mu.bias", &[2]),
            ("mu.weight", &[2, 400]),
            ("out.bias", &[784]),
            ("out.weight", &[784, 400]),
        ]
    );
}
