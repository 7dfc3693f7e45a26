//! The stack of linear layers every fully connected model is built from.

use crate::activation::Activation;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// Linear layers `widths[0] -> widths[1] -> ...`: `hidden` after every layer but the last,
/// `last` after the last. Widths of one entry make an empty stack that passes its input on.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    #[module(skip)]
    hidden: Activation,
    #[module(skip)]
    last: Activation,
}

impl Mlp {
    /// A stack through `widths`, initialised on `device`.
    pub fn new(widths: &[usize], hidden: Activation, last: Activation, device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Mlp {
            layers,
            hidden,
            last,
        }
    }

    /// `[batch, widths[0]] -> [batch, widths.last()]`. A layer followed by ReLU or by nothing
    /// is one op ([`ae_kernels::linear`]: on wgpu one kernel each way; Burn's layer on the CPU
    /// backends).
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let act = if i + 1 < n { self.hidden } else { self.last };
            x = self.apply(layer, act, x);
        }
        x
    }

    /// `layer` and then `act`: one op for ReLU or no activation.
    fn apply(&self, layer: &Linear, act: Activation, x: Tensor<2>) -> Tensor<2> {
        match act {
            Activation::Relu => ae_kernels::linear(x, layer, true),
            Activation::Identity => ae_kernels::linear(x, layer, false),
            _ => act.apply(layer.forward(x)),
        }
    }

    /// The mean over every element of the BCE-with-logits of this stack's output (its logits)
    /// against `target` (`[batch, widths.last()]`), for a stack that ends without an
    /// activation: the last layer and the loss as one op ([`ae_kernels::linear_bce_mean`]: on
    /// wgpu the loss's gradient is applied inside the layer's gradient kernel); for a stack
    /// ending otherwise, the forward pass and the loss op.
    pub fn bce_mean(&self, mut x: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        let Some((last, hidden)) = self.layers.split_last() else {
            return ae_kernels::bce_with_logits_mean(x, target);
        };
        if self.last != Activation::Identity {
            return ae_kernels::bce_with_logits_mean(self.forward(x), target);
        }
        for layer in hidden {
            x = self.apply(layer, self.hidden, x);
        }
        ae_kernels::linear_bce_mean(x, last, target)
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
}
