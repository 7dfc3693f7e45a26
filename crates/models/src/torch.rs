//! The weights under the names and in the layouts of the PyTorch peers
//! (`scripts/peers/torch_ae.py`), so that a model trained here loads into `torch.nn` modules.
//!
//! `nn.Linear` keeps its weight as `[out, in]` (Burn's `Linear`: `[in, out]`, so it is
//! transposed); `nn.Conv2d` as `[out, in, kh, kw]`, as Burn does. Names follow the peers'
//! modules: an `nn.Sequential` numbers its children, activations and pooling included.

use burn::nn::Linear;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;

/// One tensor as PyTorch's `state_dict` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    /// The `state_dict` key (`"0.weight"`, `"mu.bias"`).
    pub name: String,
    /// PyTorch's shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// Why a model cannot be given as PyTorch tensors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The model has no counterpart among the PyTorch peers.
    #[error("{0} has no PyTorch peer module to export to")]
    NoPeer(String),
    /// A weight could not be read back from the device.
    #[error("cannot read a weight back from the device: {0}")]
    Read(String),
}

fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ExportError> {
    t.try_into_data()
        .map_err(|e| ExportError::Read(e.to_string()))?
        .try_into_vec::<f32>()
        .map_err(|e| ExportError::Read(format!("{e:?}")))
}

/// `<prefix>.weight` (`[out, in]`) and `<prefix>.bias` of a linear layer.
pub fn linear(prefix: &str, layer: &Linear) -> Result<Vec<TorchTensor>, ExportError> {
    let weight = layer.weight.val();
    let [inputs, outputs] = weight.dims();
    let mut out = vec![TorchTensor {
        name: format!("{prefix}.weight"),
        shape: vec![outputs, inputs],
        values: values(weight.transpose())?,
    }];
    if let Some(bias) = &layer.bias {
        out.push(TorchTensor {
            name: format!("{prefix}.bias"),
            shape: vec![outputs],
            values: values(bias.val())?,
        });
    }
    Ok(out)
}

/// `<prefix>.weight` (`[out, in, kh, kw]`) and `<prefix>.bias` of a convolution.
pub fn conv(prefix: &str, layer: &Conv2d) -> Result<Vec<TorchTensor>, ExportError> {
    weight_and_bias(
        prefix,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
    )
}

/// A transposed convolution as `nn.ConvTranspose2d`'s `weight` (`[in, out, kh, kw]`, Burn's
/// layout too) and `bias`.
pub fn conv_transpose(
    prefix: &str,
    layer: &ConvTranspose2d,
) -> Result<Vec<TorchTensor>, ExportError> {
    weight_and_bias(
        prefix,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
    )
}

fn weight_and_bias(
    prefix: &str,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
) -> Result<Vec<TorchTensor>, ExportError> {
    let mut out = vec![TorchTensor {
        name: format!("{prefix}.weight"),
        shape: weight.dims().to_vec(),
        values: values(weight)?,
    }];
    if let Some(b) = bias {
        out.push(TorchTensor {
            name: format!("{prefix}.bias"),
            shape: b.dims().to_vec(),
            values: values(b)?,
        });
    }
    Ok(out)
}

/// Linear layers as the children of an `nn.Sequential` that follows each with an activation:
/// layer `i` is child `2 i` (`torch_ae.py`'s `dense`).
pub fn sequential_linears<'a>(
    prefix: &str,
    layers: impl IntoIterator<Item = &'a Linear>,
) -> Result<Vec<TorchTensor>, ExportError> {
    let mut out = Vec::new();
    for (i, layer) in layers.into_iter().enumerate() {
        out.extend(linear(&format!("{prefix}{}", 2 * i), layer)?);
    }
    Ok(out)
}
