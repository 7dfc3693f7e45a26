//! The classic Keras convolutional autoencoder for 28x28 images.
//!
//! Encoder: three 3x3 'same' convolutions (16, 8, 8 channels, ReLU), each followed by a 2x2
//! max-pool that rounds up (28 -> 14 -> 7 -> 4): a `[8, 4, 4]` code, 128 numbers.
//! Decoder: 3x3 convolutions (8, 8, 16 channels, ReLU) each followed by nearest x2 upsampling
//! (4 -> 8 -> 16, then a 'valid' convolution 16 -> 14, -> 28), and a last 1-channel convolution
//! whose sigmoid is the image.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of the convolutional autoencoder.
#[derive(Config, Debug)]
pub struct ConvAeConfig {
    /// Channels of the input images (1 for grey).
    pub in_channels: usize,
    /// Channels of the three encoder convolutions; the decoder mirrors them.
    pub channels: [usize; 3],
    /// Side of the square convolution kernels, in pixels (odd).
    pub kernel_size: usize,
}

/// The convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvAe {
    enc: Vec<Conv2d>,
    dec: Vec<Conv2d>,
    out: Conv2d,
    pool: MaxPool2d,
    up: Interpolate2d,
    #[module(skip)]
    code_shape: [usize; 3],
}

impl ConvAeConfig {
    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> ConvAe {
        let k = [self.kernel_size, self.kernel_size];
        let conv = |i, o, padding| {
            Conv2dConfig::new([i, o], k)
                .with_padding(padding)
                .init(device)
        };
        let [c1, c2, c3] = self.channels;
        ConvAe {
            enc: vec![
                conv(self.in_channels, c1, PaddingConfig2d::Same),
                conv(c1, c2, PaddingConfig2d::Same),
                conv(c2, c3, PaddingConfig2d::Same),
            ],
            dec: vec![
                conv(c3, c3, PaddingConfig2d::Same),
                conv(c3, c2, PaddingConfig2d::Same),
                conv(c2, c1, PaddingConfig2d::Valid),
            ],
            out: conv(c1, self.in_channels, PaddingConfig2d::Same),
            pool: MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
            up: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init(),
            code_shape: [c3, 4, 4],
        }
    }
}

impl ConvAe {
    /// Numbers in one code: channels x 4 x 4.
    pub fn code_dim(&self) -> usize {
        self.code_shape.iter().product()
    }

    /// `[batch, c, 28, 28]` images -> `[batch, code_dim]` codes.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.enc {
            x = self.pool.forward(relu(conv.forward(x))); // 28 -> 14 -> 7 -> 4
        }
        x.flatten(1, 3) // [batch, 8 * 4 * 4]
    }

    /// `[batch, code_dim]` codes -> `[batch, c, 28, 28]` logits.
    pub fn decode_logits(&self, codes: Tensor<2>) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let [c, h, w] = self.code_shape;
        let mut x = codes.reshape([batch, c, h, w]);
        for conv in &self.dec {
            x = self.up.forward(relu(conv.forward(x))); // 4 -> 8 -> 16 -> (14) -> 28
        }
        self.out.forward(x)
    }
}
