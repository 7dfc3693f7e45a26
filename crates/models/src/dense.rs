//! Fully connected autoencoders: `input -> hidden.. -> code -> ..hidden -> input`.
//!
//! One config covers the shallow `dense-ae` (784-32-784, ReLU code), the `deep-ae`
//! (784-128-64-32-64-128-784), the `linear-ae` (identity everywhere: PCA's subspace) and the
//! `binary-ae` toy (4-2-4, sigmoid code). The decoder mirrors the encoder; the network returns
//! raw outputs and the loss applies `output` (a sigmoid in a numerically stable way).

use crate::activation::Activation;
use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::footprint::Footprint;
use crate::loss::ReconLoss;
use crate::mlp::Mlp;
use crate::torch::{self, ExportError, TorchTensor};
use burn::prelude::*;

/// Configuration of a fully connected autoencoder.
#[derive(Config, Debug)]
pub struct DenseAeConfig {
    /// Inputs (and outputs) per sample: 784 for 28x28 images.
    pub input_dim: usize,
    /// Widths of the encoder's hidden layers, outermost first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Units in the code (the "thought vector").
    pub latent_dim: usize,
    /// Activation after each hidden layer.
    pub activation: Activation,
    /// Activation of the code layer.
    pub code_activation: Activation,
    /// Activation of the output layer (`sigmoid` for pixels in [0, 1]).
    pub output: Activation,
    /// Allows a code at least as wide as the input (it can learn the identity unless
    /// regularised), which is refused otherwise.
    pub overcomplete: bool,
}

impl DenseAeConfig {
    /// The widths from input to code.
    fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.input_dim];
        w.extend(&self.hidden);
        w.push(self.latent_dim);
        w
    }

    /// Checks every size against the `inputs` numbers per sample of the data.
    pub fn validate(&self, inputs: usize) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.latent_dim == 0 {
            return err("latent_dim must be at least 1".into());
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return err(format!("hidden layer {} has width 0", i + 1));
        }
        if self.input_dim != inputs {
            return err(format!(
                "input_dim is {} but the samples have {inputs} numbers",
                self.input_dim
            ));
        }
        if self.latent_dim >= self.input_dim && !self.overcomplete {
            return err(format!(
                "a code of {} units is not smaller than the {} inputs (overcomplete: it can \
                 learn the identity); pass --overcomplete to ask for it",
                self.latent_dim, self.input_dim
            ));
        }
        Ok(())
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> DenseAe {
        let enc = self.encoder_widths();
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        DenseAe {
            encoder: Mlp::new(&enc, self.activation, self.code_activation, device),
            decoder: Mlp::new(&dec, self.activation, Activation::Identity, device),
            output: self.output,
        }
    }
}

/// A fully connected autoencoder.
#[derive(Module, Debug)]
pub struct DenseAe {
    encoder: Mlp,
    decoder: Mlp,
    #[module(skip)]
    output: Activation,
}

impl NetConfig for DenseAeConfig {
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.validate(image.iter().product())
    }

    fn code_size(&self) -> usize {
        self.latent_dim
    }

    fn footprint(&self, _image: [usize; 3]) -> Footprint {
        let enc = self.encoder_widths();
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        Footprint::mlp(&enc) + Footprint::mlp(&dec)
    }

    fn output_activation(&self) -> Activation {
        self.output
    }
}

impl Net for DenseAe {
    /// `[batch, c, h, w]` samples -> `[batch, latent_dim]` codes.
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(x.flatten(1, 3))
    }

    /// `[batch, latent_dim]` codes -> `[batch, c, h, w]` raw outputs, for samples of `shape`.
    fn decode_raw(&self, codes: Tensor<2>, shape: [usize; 3]) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let [c, h, w] = shape;
        self.decoder.forward(codes).reshape([batch, c, h, w])
    }

    /// The activation of the output layer.
    fn output(&self) -> Activation {
        self.output
    }

    /// The plain autoencoder's loss, the per-element mean reconstruction loss
    /// ([`DenseAe::recon_mean`]).
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let codes = self.encode(input);
        LossTerms::reconstruction_only(self.recon_mean(codes, target, ctx.recon, ctx.image))
    }

    /// `torch_ae.py`'s `dense`: one `nn.Sequential`, encoder then decoder, each linear layer
    /// followed by its activation.
    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        let layers = self.encoder.layers().iter().chain(self.decoder.layers());
        torch::sequential_linears("", layers)
    }
}

impl DenseAe {
    /// The mean reconstruction loss (`recon`) of `target`, images of `image`, from `codes`:
    /// BCE on the sigmoid output, where the layer op runs ([`ae_kernels::Op::Linear`]: wgpu),
    /// with the decoder's last layer and the loss as one op ([`Mlp::bce_mean`]); else through
    /// the decoder's output and [`ReconLoss::mean`], as before that op.
    pub fn recon_mean(
        &self,
        codes: Tensor<2>,
        target: Tensor<4>,
        recon: ReconLoss,
        image: [usize; 3],
    ) -> Tensor<1> {
        let device = codes.device();
        if recon == ReconLoss::Bce
            && self.output == Activation::Sigmoid
            && ae_kernels::Op::Linear.used_on(&device)
        {
            return self.decoder.bce_mean(codes, target.flatten(1, 3));
        }
        let raw = self.decode_raw(codes, image);
        recon.mean(raw, target, self.output)
    }

    /// The encoder's layers, input side first (the first one's weights are the features).
    pub fn encoder(&self) -> &Mlp {
        &self.encoder
    }
}
