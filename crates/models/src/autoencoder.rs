//! [`Autoencoder`], the trainable whole the Learner drives: a network, the reconstruction loss
//! it trains with, and the sample shape it works on.

use crate::activation::Activation;
use crate::contract::{ConfigError, LossContext, LossTerms, Net};
use crate::loss::ReconLoss;
use crate::network::{Network, NetworkConfig};
use burn::prelude::*;

/// An autoencoder ready to train or use: a network, its loss and the sample shape it works on.
#[derive(Module, Debug)]
pub struct Autoencoder {
    net: Network,
    #[module(skip)]
    loss: ReconLoss,
    #[module(skip)]
    image: [usize; 3],
}

impl Autoencoder {
    /// Validates `config` and builds the model with fresh weights on `device`.
    pub fn new(
        config: &NetworkConfig,
        loss: ReconLoss,
        image: [usize; 3],
        device: &Device,
    ) -> Result<Self, ConfigError> {
        config.validate(image)?;
        if loss == ReconLoss::Bce && config.output() != Activation::Sigmoid {
            return Err(ConfigError(
                "binary cross-entropy needs a sigmoid output; a linear output trains with \
                 --loss mse"
                    .into(),
            ));
        }
        Ok(Autoencoder {
            net: config.init(device),
            loss,
            image,
        })
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// `[channels, height, width]` of the samples.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image
    }

    /// `[batch, c, h, w]` samples -> `[batch, code_dim]` codes (the VAE's posterior means).
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.net.encode(x)
    }

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` reconstructions.
    pub fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        self.net
            .output()
            .apply(self.net.decode_raw(codes, self.image))
    }

    /// Samples -> their reconstructions.
    pub fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(x))
    }

    /// The loss of reconstructing `target` from `input` (the same samples, unless denoising);
    /// `anneal` multiplies the regulariser (1 outside a warm-up). The VAE draws its noise on the
    /// device.
    pub fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, anneal: f32) -> LossTerms {
        self.forward_loss_with(input, target, anneal, None)
    }

    /// [`Autoencoder::forward_loss`] with the VAE's reparameterisation noise given (`[batch,
    /// latent]`, N(0, 1)), or drawn on the device when `None`.
    pub fn forward_loss_with(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        anneal: f32,
        noise: Option<Tensor<2>>,
    ) -> LossTerms {
        let ctx = LossContext {
            recon: self.loss,
            image: self.image,
            anneal,
            noise,
        };
        self.net.forward_loss(input, target, ctx)
    }
}
