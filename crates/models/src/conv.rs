//! The classic Keras convolutional autoencoder for 28x28 images, as two blocks that the
//! convolutional VAE reuses.
//!
//! Encoder: three 3x3 'same' convolutions (16, 8, 8 channels, ReLU), each followed by a 2x2
//! max-pool that rounds up (28 -> 14 -> 7 -> 4): a `[8, 4, 4]` code, 128 numbers.
//! Decoder: 3x3 convolutions (8, 8, 16 channels, ReLU) each followed by nearest x2 upsampling
//! (4 -> 8 -> 16, then a 'valid' convolution 16 -> 14, -> 28), and a last 1-channel convolution
//! whose sigmoid is the image.

use crate::contract::{ConfigError, Net, NetConfig};
use crate::footprint::Footprint;
use crate::layout::dense_one_channel;
use crate::torch::{self, ExportError, TorchTensor};
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
    /// Side of the square convolution kernels, in pixels: 3, the one size whose decoder
    /// gives back 28x28 (checked by `validate`).
    pub kernel_size: usize,
}

/// The convolution + pooling half: images -> flat codes.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
}

/// The convolution + upsampling half: flat codes -> image logits.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    convs: Vec<Conv2d>,
    out: Conv2d,
    up: Interpolate2d,
    #[module(skip)]
    code_shape: [usize; 3],
}

/// The convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvAe {
    encoder: ConvEncoder,
    decoder: ConvDecoder,
}

impl ConvAeConfig {
    /// Numbers in one code: last channels x 4 x 4.
    pub fn code_dim(&self) -> usize {
        self.channels[2] * 16
    }

    /// Checks the sizes against `image`, `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        if self.channels.contains(&0) || self.in_channels == 0 {
            return Err(ConfigError("every channel count must be at least 1".into()));
        }
        if self.kernel_size.is_multiple_of(2) {
            return Err(ConfigError(format!(
                "kernel_size must be odd, not {}",
                self.kernel_size
            )));
        }
        // The decoder's 'valid' convolution takes 16 -> 17 - k pixels, doubled by the last
        // upsampling: only the kernel that gives back 28 fits the chain.
        let side = 17usize.saturating_sub(self.kernel_size) * 2;
        if side != 28 {
            return Err(ConfigError(format!(
                "kernel_size {} gives {side}x{side} reconstructions of 28x28 images; only \
                 kernel_size 3 fits this network",
                self.kernel_size
            )));
        }
        if self.in_channels != image[0] || image[1..] != [28, 28] {
            return Err(ConfigError(format!(
                "the convolutional networks take {}x28x28 images, the data is {}x{}x{}",
                self.in_channels, image[0], image[1], image[2]
            )));
        }
        Ok(())
    }

    /// The encoder's layers for `image`: each convolution at the side it works on, then the
    /// pooling that halves it (rounding up).
    pub fn encoder_footprint(&self, image: [usize; 3]) -> Footprint {
        let [c1, c2, c3] = self.channels;
        let k = self.kernel_size;
        let mut side = image[1];
        let mut total = Footprint::default();
        for (i, o) in [(self.in_channels, c1), (c1, c2), (c2, c3)] {
            total = total + Footprint::conv(i, o, k, side);
            side = side.div_ceil(2);
            total = total + Footprint::reshaping(o * side * side);
        }
        total
    }

    /// The decoder's layers: convolutions at 4, 8 and 16 (the last 'valid'), each followed by
    /// the upsampling that doubles it, and the output convolution.
    pub fn decoder_footprint(&self, image: [usize; 3]) -> Footprint {
        let [c1, c2, c3] = self.channels;
        let k = self.kernel_size;
        let valid = 17usize.saturating_sub(k);
        let steps = [(c3, c3, 4, 8), (c3, c2, 8, 16), (c2, c1, valid, 2 * valid)];
        let mut total = Footprint::default();
        for (i, o, side, up) in steps {
            total = total + Footprint::conv(i, o, k, side) + Footprint::reshaping(o * up * up);
        }
        total + Footprint::conv(c1, self.in_channels, k, image[1])
    }

    fn conv(&self, i: usize, o: usize, padding: PaddingConfig2d, device: &Device) -> Conv2d {
        Conv2dConfig::new([i, o], [self.kernel_size, self.kernel_size])
            .with_padding(padding)
            .init(device)
    }

    /// The encoder half.
    pub fn init_encoder(&self, device: &Device) -> ConvEncoder {
        let [c1, c2, c3] = self.channels;
        let same = || PaddingConfig2d::Same;
        ConvEncoder {
            convs: vec![
                self.conv(self.in_channels, c1, same(), device),
                self.conv(c1, c2, same(), device),
                self.conv(c2, c3, same(), device),
            ],
            pool: MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
        }
    }

    /// The decoder half.
    pub fn init_decoder(&self, device: &Device) -> ConvDecoder {
        let [c1, c2, c3] = self.channels;
        let same = || PaddingConfig2d::Same;
        ConvDecoder {
            convs: vec![
                self.conv(c3, c3, same(), device),
                self.conv(c3, c2, same(), device),
                self.conv(c2, c1, PaddingConfig2d::Valid, device),
            ],
            out: self.conv(c1, self.in_channels, same(), device),
            up: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init(),
            code_shape: [c3, 4, 4],
        }
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> ConvAe {
        ConvAe {
            encoder: self.init_encoder(device),
            decoder: self.init_decoder(device),
        }
    }
}

/// A 3x3 convolution with `pad` on every side: ae-kernels' where it runs (flex, ndarray),
/// else the layer's own (Burn's).
fn conv3x3(conv: &Conv2d, x: Tensor<4>, pad: usize) -> Tensor<4> {
    match &conv.bias {
        Some(bias) if ae_kernels::used_on(&x.device()) => {
            ae_kernels::conv3x3(x, conv.weight.val(), bias.val(), pad)
        }
        _ => conv.forward(x),
    }
}

/// The 2x2 max-pool, rounding up: ae-kernels' where it runs, else the layer's own.
fn pool2x2(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    if ae_kernels::used_on(&x.device()) {
        ae_kernels::max_pool2x2(x)
    } else {
        pool.forward(x)
    }
}

impl ConvEncoder {
    /// `[batch, c, 28, 28]` images -> `[batch, channels * 4 * 4]` codes.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.convs {
            // A one-channel output is made dense for wgpu's fusion (layout.rs).
            x = pool2x2(&self.pool, relu(dense_one_channel(conv3x3(conv, x, 1)))); // 28 -> 14 -> 7 -> 4
        }
        x.flatten(1, 3) // [batch, 8 * 4 * 4]
    }
}

impl ConvDecoder {
    /// `[batch, channels * 4 * 4]` codes -> `[batch, c, 28, 28]` logits.
    pub fn forward(&self, codes: Tensor<2>) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let [c, h, w] = self.code_shape;
        let mut x = codes.reshape([batch, c, h, w]);
        for (i, conv) in self.convs.iter().enumerate() {
            // The third is 'valid' (16 -> 14).
            let pad = usize::from(i != 2);
            x = self
                .up
                .forward(relu(dense_one_channel(conv3x3(conv, x, pad)))); // 4 -> 8 -> 16 -> (14) -> 28
        }
        // One channel for grey images: made dense for wgpu's fusion (layout.rs).
        dense_one_channel(conv3x3(&self.out, x, 1))
    }
}

impl NetConfig for ConvAeConfig {
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.validate(image)
    }

    fn code_size(&self) -> usize {
        self.code_dim()
    }

    fn footprint(&self, image: [usize; 3]) -> Footprint {
        self.encoder_footprint(image) + self.decoder_footprint(image)
    }
}

impl ConvAe {
    /// The convolutions in the order of `torch_ae.py`'s `conv` (encoder, decoder, output),
    /// each the first of a (conv, ReLU, pool or upsample) triple: child `3 i`.
    fn convs(&self) -> impl Iterator<Item = &Conv2d> {
        let dec = &self.decoder;
        self.encoder
            .convs
            .iter()
            .chain(&dec.convs)
            .chain([&dec.out])
    }
}

impl Net for ConvAe {
    /// `[batch, c, 28, 28]` images -> `[batch, code_dim]` codes.
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images)
    }

    /// `[batch, code_dim]` codes -> `[batch, c, 28, 28]` logits.
    fn decode_raw(&self, codes: Tensor<2>, _image: [usize; 3]) -> Tensor<4> {
        self.decoder.forward(codes)
    }

    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        let mut out = Vec::new();
        for (i, c) in self.convs().enumerate() {
            out.extend(torch::conv(&(3 * i).to_string(), c)?);
        }
        Ok(out)
    }
}
