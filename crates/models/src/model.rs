//! The one contract every autoencoder shares, and the enum that picks one at run time.

use crate::conv::{ConvAe, ConvAeConfig};
use crate::dense::{DenseAe, DenseAeConfig};
use crate::loss::ReconLoss;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

/// What every autoencoder network does.
pub trait Net {
    /// `[batch, c, h, w]` images in [0, 1] -> `[batch, code_dim]` codes.
    fn encode(&self, images: Tensor<4>) -> Tensor<2>;

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` logits of images of shape `image`.
    fn decode_logits(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4>;

    /// The loss of reconstructing `target` from `input`, with its terms itemised.
    /// Plain autoencoders have one term, the reconstruction; regularised ones add theirs.
    fn forward_loss(
        &self,
        input: Tensor<4>,
        target: Tensor<4>,
        loss: ReconLoss,
        image: [usize; 3],
    ) -> LossTerms {
        let logits = self.decode_logits(self.encode(input), image);
        LossTerms::reconstruction_only(loss.mean(logits, target))
    }
}

/// A total loss and the named terms it is made of, each a `[1]` tensor.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// What the optimiser minimises.
    pub total: Tensor<1>,
    /// Named parts, shown on the dashboard (`"Reconstruction"` always comes first).
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

impl LossTerms {
    /// The name of the reconstruction term.
    pub const RECONSTRUCTION: &'static str = "Reconstruction";

    /// A loss that is only the reconstruction.
    pub fn reconstruction_only(recon: Tensor<1>) -> Self {
        LossTerms {
            total: recon.clone(),
            terms: vec![(Self::RECONSTRUCTION, recon)],
        }
    }
}

/// The network of one autoencoder kind.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one network per process, built once; boxing would only add indirection"
)]
pub enum Network {
    /// Fully connected, shallow or deep.
    Dense(DenseAe),
    /// Convolutional.
    Conv(ConvAe),
}

impl Net for Network {
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Network::Dense(m) => m.encode(images),
            Network::Conv(m) => m.encode(images),
        }
    }

    fn decode_logits(&self, codes: Tensor<2>, image: [usize; 3]) -> Tensor<4> {
        match self {
            Network::Dense(m) => m.decode_logits(codes, [image[1], image[2]]),
            Network::Conv(m) => m.decode_logits(codes),
        }
    }
}

/// The configuration of a network, tagged by its kind in config files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NetworkConfig {
    /// A fully connected autoencoder.
    Dense(DenseAeConfig),
    /// The convolutional autoencoder.
    Conv(ConvAeConfig),
}

/// A configuration that cannot build a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model configuration: {0}")]
pub struct ConfigError(pub String);

impl NetworkConfig {
    /// Checks every size; `image` is `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        match self {
            NetworkConfig::Dense(c) => {
                if c.latent_dim == 0 {
                    return err("latent_dim must be at least 1".into());
                }
                if let Some(i) = c.hidden.iter().position(|&h| h == 0) {
                    return err(format!("hidden layer {i} has width 0"));
                }
                let pixels = image.iter().product::<usize>();
                if c.input_dim != pixels {
                    return err(format!(
                        "input_dim is {} but the images have {pixels} pixels",
                        c.input_dim
                    ));
                }
            }
            NetworkConfig::Conv(c) => {
                if c.channels.contains(&0) || c.in_channels == 0 {
                    return err("every channel count must be at least 1".into());
                }
                if c.kernel_size % 2 == 0 {
                    return err(format!("kernel_size must be odd, not {}", c.kernel_size));
                }
                if c.in_channels != image[0] || image[1..] != [28, 28] {
                    return err(format!(
                        "the convolutional autoencoder takes {}x28x28 images, the data is {}x{}x{}",
                        c.in_channels, image[0], image[1], image[2]
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds the network with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> Network {
        match self {
            NetworkConfig::Dense(c) => Network::Dense(c.init(device)),
            NetworkConfig::Conv(c) => Network::Conv(c.init(device)),
        }
    }
}

/// An autoencoder ready to train or use: a network, its loss and the image shape it works on.
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
        Ok(Autoencoder {
            net: config.init(device),
            loss,
            image,
        })
    }

    /// `[channels, height, width]` of the images.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image
    }

    /// `[batch, c, h, w]` images in [0, 1] -> `[batch, code_dim]` codes.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.net.encode(images)
    }

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` images in [0, 1].
    pub fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        sigmoid(self.net.decode_logits(codes, self.image))
    }

    /// Images -> their reconstructions.
    pub fn reconstruct(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }

    /// The loss of reconstructing `target` from `input` (the same images, unless denoising).
    pub fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>) -> LossTerms {
        self.net.forward_loss(input, target, self.loss, self.image)
    }
}
