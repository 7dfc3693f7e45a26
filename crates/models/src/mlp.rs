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

    /// `[batch, widths[0]] -> [batch, widths.last()]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let act = if i + 1 < n { self.hidden } else { self.last };
            x = act.apply(layer.forward(x));
        }
        x
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
}
