//! The classic Keras convolutional autoencoder for 28x28 images, as two blocks that the
//! convolutional VAE reuses, and the same network for images of any size and channels.
//!
//! Encoder: three 3x3 'same' convolutions (16, 8, 8 channels, ReLU), each followed by a 2x2
//! max-pool that rounds up (28 -> 14 -> 7 -> 4): a `[8, 4, 4]` code, 128 numbers.
//! Decoder: 3x3 convolutions (8, 8, 16 channels, ReLU) each followed by nearest x2 upsampling
//! (4 -> 8 -> 16, then a 'valid' convolution 16 -> 14, -> 28), and a last convolution to the
//! image's channels whose sigmoid is the image.
//!
//! Other sizes ([`Geometry`]): the pooling halves each side, rounding up, three times (s ->
//! s3); the decoder then gives 8 s3 - 4 with the 'valid' third convolution, or 8 s3 with a
//! 'same' one, whichever first covers the image, and keeps the top-left image-sized part of its
//! output (the pooling's rounding added its extra at the bottom and right). For 28x28 that is
//! the network above, unchanged.

use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::conv_layers::{Conv3x3, conv3x3, conv3x3_relu_pool, output_head, output_loss};
use crate::footprint::Footprint;
use crate::loss::ReconLoss;
use crate::torch::{self, ExportError, TorchTensor};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;

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
    /// `[height, width]` of the images (`null`: 28x28, MNIST's).
    pub image_size: Option<[usize; 2]>,
}

/// The largest image side the convolutional networks take, in pixels.
pub const MAX_CONV_SIDE: usize = 4096;

/// Where the sizes go through the network, for images of one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// `[height, width]` of the images.
    pub image: [usize; 2],
    /// The sides after the three poolings: the code's `[height, width]`.
    pub code: [usize; 2],
    /// Padding of the decoder's third convolution: 0 ('valid') or 1 ('same').
    pub third_pad: usize,
    /// `[height, width]` of the decoder's output before it is cropped to the image.
    pub decoded: [usize; 2],
}

impl Geometry {
    /// The geometry for `[height, width]` images.
    pub fn for_image(image: [usize; 2]) -> Geometry {
        let pooled = |s: usize| s.div_ceil(2).div_ceil(2).div_ceil(2);
        let code = image.map(pooled);
        // 'valid' when 8 s3 - 4 covers both sides, else 'same' (8 s3 always covers).
        let third_pad = usize::from((0..2).any(|d| 8 * code[d] - 4 < image[d]));
        let decoded = code.map(|s| 8 * s + 4 * third_pad - 4);
        Geometry {
            image,
            code,
            third_pad,
            decoded,
        }
    }

    /// The side the decoder's third convolution works on, per dimension (4 s3).
    fn third_side(&self, d: usize) -> usize {
        4 * self.code[d]
    }
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
    /// Padding of the third convolution (0: 'valid').
    #[module(skip)]
    third_pad: usize,
    /// `[height, width]` the output is cropped to, when the decoder gives more.
    #[module(skip)]
    image: [usize; 2],
}

/// The convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvAe {
    encoder: ConvEncoder,
    decoder: ConvDecoder,
}

impl ConvAeConfig {
    /// `[height, width]` of the images.
    pub fn image_hw(&self) -> [usize; 2] {
        self.image_size.unwrap_or([28, 28])
    }

    /// Where the sizes go for this config's images.
    pub fn geometry(&self) -> Geometry {
        Geometry::for_image(self.image_hw())
    }

    /// Numbers in one code: last channels x the pooled sides (8 x 4 x 4 for 28x28).
    pub fn code_dim(&self) -> usize {
        let [h, w] = self.geometry().code;
        self.channels[2] * h * w
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
        // On 28x28, the decoder's 'valid' convolution takes 16 -> 17 - k pixels, doubled by
        // the last upsampling: only the kernel that gives back 28 fits the chain.
        if self.kernel_size != 3 {
            let side = 17usize.saturating_sub(self.kernel_size) * 2;
            return Err(ConfigError(format!(
                "kernel_size {} gives {side}x{side} reconstructions of 28x28 images; only \
                 kernel_size 3 fits this network",
                self.kernel_size
            )));
        }
        check_image(
            [self.in_channels, self.image_hw()[0], self.image_hw()[1]],
            image,
        )
    }

    /// The encoder's layers for `image`: each convolution at the size it works on, then the
    /// pooling that halves it (rounding up).
    pub fn encoder_footprint(&self, image: [usize; 3]) -> Footprint {
        let [c1, c2, c3] = self.channels;
        let k = self.kernel_size;
        let mut side = [image[1], image[2]];
        let mut total = Footprint::default();
        for (i, o) in [(self.in_channels, c1), (c1, c2), (c2, c3)] {
            total = total + Footprint::conv(i, o, k, side);
            side = side.map(|s| s.div_ceil(2));
            total = total + Footprint::reshaping(o * side[0] * side[1]);
        }
        total
    }

    /// The decoder's layers: convolutions at s3, 2 s3 and 4 s3 (the last 'valid' or 'same'),
    /// each followed by the upsampling that doubles it, and the output convolution.
    pub fn decoder_footprint(&self, _image: [usize; 3]) -> Footprint {
        let [c1, c2, c3] = self.channels;
        let k = self.kernel_size;
        let g = self.geometry();
        let at = |m: usize| g.code.map(|s| m * s);
        let third = [0, 1].map(|d| g.third_side(d) + 2 * g.third_pad - 2);
        let steps = [(c3, c3, at(1)), (c3, c2, at(2)), (c2, c1, third)];
        let mut total = Footprint::default();
        for (i, o, side) in steps {
            let up = o * 4 * side[0] * side[1];
            total = total + Footprint::conv(i, o, k, side) + Footprint::reshaping(up);
        }
        total + Footprint::conv(c1, self.in_channels, k, g.decoded)
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
        let g = self.geometry();
        let third = if g.third_pad == 0 {
            PaddingConfig2d::Valid
        } else {
            same()
        };
        ConvDecoder {
            convs: vec![
                self.conv(c3, c3, same(), device),
                self.conv(c3, c2, same(), device),
                self.conv(c2, c1, third, device),
            ],
            out: self.conv(c1, self.in_channels, same(), device),
            up: Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init(),
            code_shape: [c3, g.code[0], g.code[1]],
            third_pad: g.third_pad,
            image: g.image,
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

/// Checks a convolutional net's input, `[channels, height, width]`, against `image`, the
/// data's: each side 1 to [`MAX_CONV_SIDE`], and the same sizes.
pub(crate) fn check_image(net: [usize; 3], image: [usize; 3]) -> Result<(), ConfigError> {
    let [c, h, w] = net;
    if h == 0 || w == 0 || h > MAX_CONV_SIDE || w > MAX_CONV_SIDE {
        return Err(ConfigError(format!(
            "image_size {h}x{w}: each side must be 1 to {MAX_CONV_SIDE} pixels"
        )));
    }
    if net != image {
        return Err(ConfigError(format!(
            "this convolutional network takes {c}x{h}x{w} images, the data is {}x{}x{}",
            image[0], image[1], image[2]
        )));
    }
    Ok(())
}

impl ConvEncoder {
    /// `[batch, c, h, w]` images -> `[batch, channels * h3 * w3]` codes (`8 * 4 * 4` on MNIST).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.maps(images).flatten(1, 3) // [batch, 8 * 4 * 4] on MNIST
    }

    /// `[batch, c, h, w]` images -> the codes as the last pooling leaves them, `[batch,
    /// channels, h3, w3]` (`8 x 4 x 4` on MNIST).
    pub fn maps(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = images;
        for conv in &self.convs {
            x = conv3x3_relu_pool(conv, &self.pool, x, 1); // 28 -> 14 -> 7 -> 4
        }
        x
    }
}

impl ConvDecoder {
    /// `[batch, channels * h3 * w3]` codes -> `[batch, c, h, w]` logits.
    pub fn forward(&self, codes: Tensor<2>) -> Tensor<4> {
        let (x, up) = self.before_head(self.maps(codes));
        output_head(&self.out, x, self.image, up) // up 28 -> conv -> 28
    }

    /// `[batch, channels * h3 * w3]` codes as the maps the first convolution takes, `[batch,
    /// channels, h3, w3]` (what [`ConvEncoder::maps`] gives).
    pub fn maps(&self, codes: Tensor<2>) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let [c, h, w] = self.code_shape;
        codes.reshape([batch, c, h, w])
    }

    /// The mean reconstruction loss `recon` of `target` (`[batch, c, h, w]`) from the codes'
    /// `maps` ([`Self::maps`]), the output head and the loss as one op where they can be
    /// ([`output_loss`]).
    pub fn recon_mean(&self, maps: Tensor<4>, target: Tensor<4>, recon: ReconLoss) -> Tensor<1> {
        let (x, up) = self.before_head(maps);
        output_loss(&self.out, x, self.image, up, target, recon)
    }

    /// The decoder up to its output head, from the codes' maps: the last convolution's input,
    /// and the up-sampling the head applies first (none without hidden convolutions).
    fn before_head(&self, maps: Tensor<4>) -> (Tensor<4>, Option<&Interpolate2d>) {
        let mut x = maps;
        for (i, conv) in self.convs.iter().enumerate() {
            // The third is 'valid' on MNIST (16 -> 14). Every layer after the first convolves
            // its input up-sampled 2x: 4 -> conv -> up 8 -> conv -> up 16 -> conv (14) -> up 28.
            let pad = if i == 2 { self.third_pad } else { 1 };
            let up = (i > 0).then_some(&self.up);
            x = conv3x3(
                conv,
                x,
                Conv3x3 {
                    pad,
                    up,
                    relu: true,
                },
            );
        }
        (x, (!self.convs.is_empty()).then_some(&self.up))
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
    /// `[batch, c, h, w]` images -> `[batch, code_dim]` codes.
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(images)
    }

    /// `[batch, code_dim]` codes -> `[batch, c, h, w]` logits.
    fn decode_raw(&self, codes: Tensor<2>, _image: [usize; 3]) -> Tensor<4> {
        self.decoder.forward(codes)
    }

    /// The per-element mean reconstruction loss, the decoder's output head and the loss as
    /// one op where they can be ([`ConvDecoder::recon_mean`]). The codes go from encoder to
    /// decoder as maps: flattened and shaped back, they cost four reshapes a step (two in the
    /// backward), each an operation for Burn's fusion server on wgpu.
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let maps = self.encoder.maps(input);
        LossTerms::reconstruction_only(self.decoder.recon_mean(maps, target, ctx.recon))
    }

    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        let mut out = Vec::new();
        for (i, c) in self.convs().enumerate() {
            out.extend(torch::conv(&(3 * i).to_string(), c)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_keeps_its_network_and_other_sizes_are_covered() {
        // 28 -> 14 -> 7 -> 4; decoder 4 -> 8 -> 16 -> 'valid' 14 -> 28: nothing cropped.
        let g = Geometry::for_image([28, 28]);
        assert_eq!((g.code, g.third_pad, g.decoded), ([4, 4], 0, [28, 28]));
        // 30x45: 4x6 codes; 8 * 4 - 4 = 28 < 30, so 'same': 32x48, cropped to 30x45.
        let g = Geometry::for_image([30, 45]);
        assert_eq!((g.code, g.third_pad, g.decoded), ([4, 6], 1, [32, 48]));
        for h in 1..=70 {
            for w in [1, 2, 7, 28, 29, 33, 64] {
                let g = Geometry::for_image([h, w]);
                let [dh, dw] = g.decoded;
                assert!(dh >= h && dw >= w, "{h}x{w} decodes to {dh}x{dw}");
                // Less than the last pooling's step (8 pixels) to crop.
                assert!(dh - h < 8 && dw - w < 8, "{h}x{w}: {dh}x{dw}");
            }
        }
    }
}
