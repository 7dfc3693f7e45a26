//! The wide convolutional autoencoder: keras.io's image-denoising net ("Convolutional
//! autoencoder for image denoising"), for images of any size and channels.
//!
//! Encoder: two 3x3 'same' convolutions of `channels` (32) with ReLU, each followed by a 2x2
//! max-pool that rounds up (28 -> 14 -> 7): a `[32, 7, 7]` code on MNIST, 1568 numbers, twice
//! the 784 pixels: this net does not compress, and its figures are not comparable with
//! conv-ae's 128-number code. Decoder: two 3x3 transposed convolutions of stride 2 (`channels`,
//! ReLU; 7 -> 14 -> 28, padding 1, output padding 1: exactly twice the side), and a 3x3 'same'
//! convolution to the image's channels whose sigmoid is the image. Sides that the poolings
//! round up are decoded a little larger and cropped to the image, top-left.
//!
//! Exported for PyTorch (`ae export`) as `nn.Sequential(Conv2d, ReLU, MaxPool2d(2, ceil_mode=
//! True), Conv2d, ReLU, MaxPool2d, ConvTranspose2d(stride=2, padding=1, output_padding=1), ReLU,
//! ConvTranspose2d, ReLU, Conv2d(padding=1))`: the children 0, 3, 6, 8 and 10.

use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::conv::check_image;
use crate::conv_layers::{conv3x3_relu_pool, output_head, output_loss};
use crate::footprint::Footprint;
use crate::torch::{self, ExportError, TorchTensor};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of the wide convolutional autoencoder.
#[derive(Config, Debug)]
pub struct ConvWideConfig {
    /// Channels of the input images (1 for grey).
    pub in_channels: usize,
    /// Channels of every hidden layer: 32 in keras.io's net.
    pub channels: usize,
    /// `[height, width]` of the images (`null`: 28x28, MNIST's).
    pub image_size: Option<[usize; 2]>,
    /// How the weights start (absent: `Kaiming`, PyTorch's and Burn's).
    #[config(default = "WideInit::Kaiming")]
    pub init: WideInit,
}

/// How the wide net's weights start.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum WideInit {
    /// PyTorch's and Burn's default: weights and biases uniform in +-1/sqrt(fan_in).
    Kaiming,
    /// Keras's default: Glorot-uniform weights, uniform in +-sqrt(6 / (fan_in + fan_out)),
    /// and zero biases.
    Glorot,
}

/// The wide convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvWideAe {
    encoder: Vec<Conv2d>,
    pool: MaxPool2d,
    decoder: Vec<ConvTranspose2d>,
    out: Conv2d,
    /// `[channels, height, width]` of a code.
    #[module(skip)]
    code_shape: [usize; 3],
    /// `[height, width]` of the images, which the decoder's output is cropped to.
    #[module(skip)]
    image: [usize; 2],
}

impl ConvWideConfig {
    /// `[height, width]` of the images.
    pub fn image_hw(&self) -> [usize; 2] {
        self.image_size.unwrap_or([28, 28])
    }

    /// The code's `[height, width]`: each side halved twice, rounding up (7x7 on MNIST).
    pub fn code_hw(&self) -> [usize; 2] {
        self.image_hw().map(|s| s.div_ceil(2).div_ceil(2))
    }

    /// Checks the sizes against `image`, `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        if self.channels == 0 || self.in_channels == 0 {
            return Err(ConfigError("every channel count must be at least 1".into()));
        }
        check_image(
            [self.in_channels, self.image_hw()[0], self.image_hw()[1]],
            image,
        )
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> ConvWideAe {
        let (c, k) = (self.channels, [3, 3]);
        let glorot = self.init == WideInit::Glorot;
        let conv = |i: usize, o: usize| {
            let mut config = Conv2dConfig::new([i, o], k).with_padding(PaddingConfig2d::Same);
            if glorot {
                config = config.with_initializer(glorot_uniform(i, o));
            }
            let mut conv = config.init(device);
            if glorot {
                conv.bias = Some(Param::from_tensor(Tensor::zeros([o], device)));
            }
            conv
        };
        let up = || {
            let mut config = ConvTranspose2dConfig::new([c, c], k)
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1]);
            if glorot {
                config = config.with_initializer(glorot_uniform(c, c));
            }
            let mut up = config.init(device);
            if glorot {
                up.bias = Some(Param::from_tensor(Tensor::zeros([c], device)));
            }
            up
        };
        let [h, w] = self.code_hw();
        ConvWideAe {
            encoder: vec![conv(self.in_channels, c), conv(c, c)],
            pool: MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
            decoder: vec![up(), up()],
            out: conv(c, self.in_channels),
            code_shape: [c, h, w],
            image: self.image_hw(),
        }
    }
}

/// Glorot-uniform for a 3x3 kernel from `i` to `o` channels: Keras counts each side's fan as
/// its channels times the kernel's 9 taps, for convolutions and transposed ones alike.
fn glorot_uniform(i: usize, o: usize) -> Initializer {
    let bound = (6.0 / (9 * (i + o)) as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
}

impl NetConfig for ConvWideConfig {
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.validate(image)
    }

    fn code_size(&self) -> usize {
        let [h, w] = self.code_hw();
        self.channels * h * w
    }

    /// Each layer at the size it gives: convolutions at the image's size and half of it, each
    /// pooled; transposed convolutions at twice and four times the code's; the output
    /// convolution at four times the code's.
    fn footprint(&self, image: [usize; 3]) -> Footprint {
        let (c, k) = (self.channels, 3);
        let side = [image[1], image[2]];
        let half = side.map(|s| s.div_ceil(2));
        let code = self.code_hw();
        let times = |m: usize| code.map(|s| m * s);
        Footprint::conv(self.in_channels, c, k, side)
            + Footprint::reshaping(c * half[0] * half[1])
            + Footprint::conv(c, c, k, half)
            + Footprint::reshaping(c * code[0] * code[1])
            + Footprint::conv(c, c, k, times(2))
            + Footprint::conv(c, c, k, times(4))
            + Footprint::conv(c, self.in_channels, k, times(4))
    }
}

impl Net for ConvWideAe {
    /// `[batch, c, h, w]` images -> `[batch, channels * h2 * w2]` codes.
    fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.encoder {
            x = conv3x3_relu_pool(conv, &self.pool, x, 1); // 28 -> 14 -> 7
        }
        x.flatten(1, 3)
    }

    /// `[batch, channels * h2 * w2]` codes -> `[batch, c, h, w]` logits.
    fn decode_raw(&self, codes: Tensor<2>, _image: [usize; 3]) -> Tensor<4> {
        output_head(&self.out, self.before_head(codes), self.image, None)
    }

    /// The per-element mean reconstruction loss, the output head and the loss as one op where
    /// they can be ([`output_loss`]).
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let x = self.before_head(self.encode(input));
        let recon = output_loss(&self.out, x, self.image, None, target, ctx.recon);
        LossTerms::reconstruction_only(recon)
    }

    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        let mut out = Vec::new();
        for (i, c) in self.encoder.iter().enumerate() {
            out.extend(torch::conv(&(3 * i).to_string(), c)?);
        }
        for (i, up) in self.decoder.iter().enumerate() {
            out.extend(torch::conv_transpose(&(6 + 2 * i).to_string(), up)?);
        }
        out.extend(torch::conv("10", &self.out)?);
        Ok(out)
    }
}

impl ConvWideAe {
    /// The decoder up to its output head: `[batch, channels * h2 * w2]` codes -> the output
    /// convolution's input.
    fn before_head(&self, codes: Tensor<2>) -> Tensor<4> {
        let [batch, _] = codes.dims();
        let [c, h, w] = self.code_shape;
        let mut x = codes.reshape([batch, c, h, w]);
        for up in &self.decoder {
            x = up2x_relu(up, x); // 7 -> 14 -> 28
        }
        x
    }
}

/// A transposed convolution (stride 2, twice the side) and ReLU: ae-kernels' one op where it
/// runs, else the layer's own and `relu`.
fn up2x_relu(up: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    match &up.bias {
        Some(bias) if ae_kernels::Op::ConvTranspose.used_on(&x.device()) => {
            ae_kernels::conv_transpose3x3s2_relu(x, up.weight.val(), bias.val())
        }
        _ => relu(up.forward(x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist_gives_a_32x7x7_code_and_odd_sides_round_up() {
        let cfg = |image_size| ConvWideConfig {
            in_channels: 1,
            channels: 32,
            image_size,
            init: WideInit::Kaiming,
        };
        assert_eq!(cfg(None).code_hw(), [7, 7]);
        assert_eq!(cfg(None).code_size(), 1568);
        assert_eq!(cfg(Some([30, 45])).code_hw(), [8, 12]);
        assert_eq!(cfg(Some([1, 5])).code_hw(), [1, 2]);
    }

    /// The largest |value| of a parameter.
    fn largest(t: Tensor<1>) -> f64 {
        let v: Vec<f32> = t.abs().into_data().try_into_vec().unwrap();
        v.into_iter().fold(0.0, f32::max) as f64
    }

    #[test]
    fn glorot_draws_within_keras_bounds_and_zeroes_the_biases() {
        let dev = Device::flex();
        let glorot = |i: usize, o: usize| (6.0 / (9 * (i + o)) as f64).sqrt();
        let kaiming = |i: usize| 1.0 / ((9 * i) as f64).sqrt();
        for init in [WideInit::Glorot, WideInit::Kaiming] {
            let net = ConvWideConfig::new(1, 32).with_init(init).init(&dev);
            let weights = [
                (net.encoder[0].weight.val().flatten(0, 3), 1, 32),
                (net.encoder[1].weight.val().flatten(0, 3), 32, 32),
                (net.decoder[0].weight.val().flatten(0, 3), 32, 32),
                (net.decoder[1].weight.val().flatten(0, 3), 32, 32),
                (net.out.weight.val().flatten(0, 3), 32, 1),
            ];
            for (w, i, o) in weights {
                // Hundreds of uniform draws: the largest comes within 10% of the bound.
                let bound = match init {
                    WideInit::Glorot => glorot(i, o),
                    WideInit::Kaiming => kaiming(i),
                };
                let got = largest(w);
                assert!(
                    got <= bound && got > 0.9 * bound,
                    "{init:?} {i}->{o}: {got} vs {bound}"
                );
            }
            let biases = [
                net.encoder[0].bias.as_ref(),
                net.encoder[1].bias.as_ref(),
                net.decoder[0].bias.as_ref(),
                net.decoder[1].bias.as_ref(),
                net.out.bias.as_ref(),
            ];
            for b in biases {
                let b = largest(b.expect("every layer has a bias").val());
                match init {
                    WideInit::Glorot => assert_eq!(b, 0.0),
                    WideInit::Kaiming => assert!(b > 0.0),
                }
            }
        }
    }
}
