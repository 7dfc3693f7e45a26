//! Fully connected autoencoders: `784 -> hidden.. -> latent -> ..hidden -> 784`.
//!
//! `hidden = []` is the shallow `dense-ae` (784-32-784); `hidden = [128, 64]` the `deep-ae`.
//! Hidden layers and the code use `activation`; the output is a sigmoid (logits are returned to
//! the loss, which applies it in a numerically stable way).

use crate::activation::Activation;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// Configuration of a fully connected autoencoder.
#[derive(Config, Debug)]
pub struct DenseAeConfig {
    /// Inputs (and outputs) per image: pixels, 784 for 28x28.
    pub input_dim: usize,
    /// Widths of the encoder's hidden layers, outermost first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Units in the code (the "thought vector").
    pub latent_dim: usize,
    /// Activation of the hidden layers and of the code.
    pub activation: Activation,
}

/// A stack of linear layers with an activation after each but (optionally) the last.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    activate_last: bool,
}

impl Mlp {
    /// Layers `widths[0] -> widths[1] -> ...`.
    pub fn new(
        widths: &[usize],
        activation: Activation,
        activate_last: bool,
        device: &Device,
    ) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Mlp {
            layers,
            activation,
            activate_last,
        }
    }

    /// `[batch, widths[0]] -> [batch, widths.last()]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i + 1 < n || self.activate_last {
                x = self.activation.apply(x);
            }
        }
        x
    }
}

/// A fully connected autoencoder.
#[derive(Module, Debug)]
pub struct DenseAe {
    encoder: Mlp,
    decoder: Mlp,
}

impl DenseAeConfig {
    /// The widths from input to code.
    fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.input_dim];
        w.extend(&self.hidden);
        w.push(self.latent_dim);
        w
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> DenseAe {
        let enc = self.encoder_widths();
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        DenseAe {
            encoder: Mlp::new(&enc, self.activation, true, device),
            decoder: Mlp::new(&dec, self.activation, false, device),
        }
    }
}

impl DenseAe {
    /// `[batch, 1, h, w]` images -> `[batch, latent_dim]` codes.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images.flatten(1, 3))
    }

    /// `[batch, latent_dim]` codes -> `[batch, 1, h, w]` logits, for images of `shape`.
    pub fn decode_logits(&self, codes: Tensor<2>, shape: [usize; 2]) -> Tensor<4> {
        let [batch, _] = codes.dims();
        self.decoder
            .forward(codes)
            .reshape([batch, 1, shape[0], shape[1]])
    }
}
