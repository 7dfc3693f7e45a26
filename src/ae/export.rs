//! `ae export`: the weights as a safetensors file under the names and layouts of the PyTorch
//! peers in `scripts/peers/torch_ae.py`, which `scripts/peers/load_export.py` loads.
//!
//! The format (huggingface/safetensors): 8 bytes of little-endian header length, a JSON header
//! mapping each name to its dtype, shape and byte range, then the raw little-endian data.

use super::RunArgs;
use super::session::Session;
use crate::run_dir::write_atomic;
use ae_models::Net;
use ae_models::torch::TorchTensor;
use anyhow::Result;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// File formats `ae export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// huggingface safetensors, loadable with `safetensors.torch.load_file`.
    Safetensors,
}

/// `ae export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The file format.
    #[arg(long, value_enum, default_value = "safetensors")]
    pub format: Format,
    /// The file to write [default: <run>/ae/model.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The bytes of a safetensors file holding `tensors` (f32) and `metadata`.
pub fn safetensors(tensors: &[TorchTensor], metadata: &[(&str, String)]) -> Result<Vec<u8>> {
    let mut header = Map::new();
    let meta: Map<String, Value> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    header.insert("__metadata__".into(), Value::Object(meta));
    let mut offset = 0usize;
    for t in tensors {
        let end = offset + 4 * t.values.len();
        header.insert(
            t.name.clone(),
            json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut text = serde_json::to_string(&Value::Object(header))?.into_bytes();
    // The data starts 8-byte aligned: the header is padded with spaces.
    while !(8 + text.len()).is_multiple_of(8) {
        text.push(b' ');
    }
    let mut bytes = Vec::with_capacity(8 + text.len() + offset);
    bytes.extend((text.len() as u64).to_le_bytes());
    bytes.extend(text);
    for t in tensors {
        bytes.extend(t.values.iter().flat_map(|v| v.to_le_bytes()));
    }
    Ok(bytes)
}

/// Writes the run's weights for PyTorch.
pub fn export(a: &ExportArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    let tensors = s.model.network().torch_tensors()?;
    let config = std::fs::read_to_string(s.run.file(crate::run_dir::CONFIG))?;
    let bytes = safetensors(&tensors, &[("format", "pt".into()), ("config", config)])?;
    let path = s.output(a.out.as_deref(), "model.safetensors")?;
    write_atomic(&path, &bytes)?;
    let numbers: usize = tensors.iter().map(|t| t.values.len()).sum();
    println!(
        "wrote {}: {} tensors, {numbers} numbers, named as scripts/peers/torch_ae.py's {} \
         (load it with scripts/peers/load_export.py)",
        path.display(),
        tensors.len(),
        s.cfg.model
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_a_header_then_aligned_little_endian_data() {
        let t = |name: &str, shape: Vec<usize>, values: Vec<f32>| TorchTensor {
            name: name.into(),
            shape,
            values,
        };
        let tensors = [
            t("0.weight", vec![2, 1], vec![1.5, -2.0]),
            t("0.bias", vec![2], vec![0.25, 4.0]),
        ];
        let bytes = safetensors(&tensors, &[("format", "pt".into())]).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + n) % 8, 0);
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        assert_eq!(header["0.bias"]["data_offsets"], json!([8, 16]));
        assert_eq!(header["0.weight"]["shape"], json!([2, 1]));
        assert_eq!(header["__metadata__"]["format"], "pt");
        let data = &bytes[8 + n..];
        assert_eq!(data.len(), 16);
        assert_eq!(f32::from_le_bytes(data[4..8].try_into().unwrap()), -2.0);
        assert_eq!(f32::from_le_bytes(data[8..12].try_into().unwrap()), 0.25);
    }
}
