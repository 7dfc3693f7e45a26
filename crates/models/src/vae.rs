//! The variational autoencoder (Kingma and Welling 2013): the encoder gives the mean and the
//! log-variance of a Gaussian over codes, a code is drawn from it by reparameterisation
//! (`z = mu + exp(logvar / 2) * eps`, `eps ~ N(0, I)`), and the loss is the negative ELBO per
//! image: reconstruction summed over pixels plus `beta * KL(q(z|x) || N(0, I))`, in nats.
//!
//! Dense: 784-400-(20, 20), decoder 20-400-784, as pytorch/examples. Conv: the conv-ae's
//! encoder and decoder blocks around linear heads.

use crate::activation::Activation;
use crate::contract::{ConfigError, LossContext, LossTerms, Net, NetConfig};
use crate::conv::{ConvAeConfig, ConvDecoder, ConvEncoder};
use crate::footprint::Footprint;
use crate::loss::{ReconLoss, gaussian_kl};
use crate::mlp::Mlp;
use crate::torch::{self, ExportError, TorchTensor};
use ae_kernels::Op;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

/// The reparameterisation's noise: N(0, 1).
const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// The body around the Gaussian code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VaeArch {
    /// Fully connected: `input -> hidden.. -> (mu, logvar)`, decoder mirrored.
    Dense {
        /// Inputs per sample (784 for 28x28 images).
        input_dim: usize,
        /// Hidden widths of the encoder, outermost first (`[400]` as pytorch/examples).
        hidden: Vec<usize>,
    },
    /// The conv-ae's convolution blocks, with linear heads to and from the code.
    Conv(ConvAeConfig),
}

/// Configuration of the variational autoencoder.
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// The body.
    pub arch: VaeArch,
    /// Dimensions of the Gaussian code.
    pub latent_dim: usize,
    /// Weight of the KL term: 1 is the ELBO, other values a beta-VAE.
    pub beta: f64,
    /// Training epochs over which the KL weight rises linearly from 0 to `beta` (0: none).
    pub warmup_epochs: usize,
}

impl VaeConfig {
    /// Checks the sizes against `image`, `[channels, height, width]` of the data.
    pub fn validate(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.latent_dim == 0 {
            return err("latent_dim must be at least 1".into());
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return err(format!(
                "beta must be a non-negative number, not {}",
                self.beta
            ));
        }
        match &self.arch {
            VaeArch::Dense { input_dim, hidden } => {
                let pixels: usize = image.iter().product();
                if *input_dim != pixels {
                    return err(format!(
                        "input_dim is {input_dim} but the samples have {pixels} numbers"
                    ));
                }
                if let Some(i) = hidden.iter().position(|&h| h == 0) {
                    return err(format!("hidden layer {} has width 0", i + 1));
                }
                Ok(())
            }
            VaeArch::Conv(c) => c.validate(image),
        }
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Vae {
        let k = self.latent_dim;
        let (body, feature_dim, decoder) = match &self.arch {
            VaeArch::Dense { input_dim, hidden } => {
                let (enc, features, dec) = dense_widths(*input_dim, hidden, k);
                let relu = Activation::Relu;
                (
                    VaeBody::Dense(Mlp::new(&enc, relu, relu, device)),
                    features,
                    VaeDecoder::Dense(Mlp::new(&dec, relu, Activation::Identity, device)),
                )
            }
            VaeArch::Conv(c) => (
                VaeBody::Conv(c.init_encoder(device)),
                c.code_dim(),
                VaeDecoder::Conv(ConvHead {
                    fc: LinearConfig::new(k, c.code_dim()).init(device),
                    conv: c.init_decoder(device),
                }),
            ),
        };
        Vae {
            body,
            mu: LinearConfig::new(feature_dim, k).init(device),
            logvar: LinearConfig::new(feature_dim, k).init(device),
            decoder,
            beta: self.beta,
        }
    }
}

/// The dense VAE's widths for a `latent`-number code: the encoder body's (input to the last
/// hidden layer), the features the heads read, and the decoder's (code to input).
fn dense_widths(
    input_dim: usize,
    hidden: &[usize],
    latent: usize,
) -> (Vec<usize>, usize, Vec<usize>) {
    let mut enc = vec![input_dim];
    enc.extend(hidden);
    let features = *enc.last().unwrap_or(&input_dim);
    let mut dec = vec![latent];
    dec.extend(hidden.iter().rev());
    dec.push(input_dim);
    (enc, features, dec)
}

/// The encoder's body, before the two heads.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one encoder body per model, built once; boxing would only add indirection"
)]
pub enum VaeBody {
    /// Fully connected.
    Dense(Mlp),
    /// Convolutional.
    Conv(ConvEncoder),
}

/// From a code to the conv decoder's input.
#[derive(Module, Debug)]
pub struct ConvHead {
    fc: Linear,
    conv: ConvDecoder,
}

/// The decoder.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one decoder per model, built once; boxing would only add indirection"
)]
pub enum VaeDecoder {
    /// Fully connected.
    Dense(Mlp),
    /// A linear layer, then the conv-ae's decoder.
    Conv(ConvHead),
}

/// The variational autoencoder.
#[derive(Module, Debug)]
pub struct Vae {
    body: VaeBody,
    mu: Linear,
    logvar: Linear,
    decoder: VaeDecoder,
    #[module(skip)]
    beta: f64,
}

impl Vae {
    /// The name of the KL term.
    pub const KL: &'static str = "KL";
    /// The figures its loss reports, in order.
    pub const TERMS: [&'static str; 2] = [LossTerms::RECONSTRUCTION, Self::KL];

    /// `[batch, c, h, w]` -> the posterior's mean and log-variance, each `[batch, latent]`.
    pub fn posterior(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        self.heads(self.features(x))
    }

    /// `[batch, c, h, w]` -> what the heads read, `[batch, features]`.
    fn features(&self, x: Tensor<4>) -> Tensor<2> {
        match &self.body {
            VaeBody::Dense(m) => m.forward(x.flatten(1, 3)),
            VaeBody::Conv(c) => c.forward(x),
        }
    }

    /// The posterior's mean and log-variance from the features.
    fn heads(&self, features: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (
            self.mu.forward(features.clone()),
            self.logvar.forward(features),
        )
    }

    /// The reconstruction loss of the codes `z` against `target`, summed over each image's
    /// pixels and averaged over the images. For the dense decoder with BCE where its ops run
    /// (wgpu), the last layer and the loss as one op ([`Mlp::bce_mean`]: the mean over every
    /// pixel, times the pixels); for the convolutional one with BCE where the convolution and
    /// the loss ops run (flex, ndarray, wgpu), the mean of [`ConvDecoder::recon_mean`] (its
    /// output convolution and the loss one op) times the pixels; else the decoder's logits and
    /// [`ReconLoss::per_sample_sum`].
    fn recon_per_image(
        &self,
        z: Tensor<2>,
        target: Tensor<4>,
        recon: ReconLoss,
        image: [usize; 3],
    ) -> Tensor<1> {
        let device = z.device();
        if let VaeDecoder::Dense(dec) = &self.decoder
            && recon == ReconLoss::Bce
            && Op::Linear.used_on(&device)
            && Op::Bce.used_on(&device)
        {
            let pixels = image.iter().product::<usize>() as f64;
            return dec.bce_mean(z, target.flatten(1, 3)).mul_scalar(pixels);
        }
        if let VaeDecoder::Conv(head) = &self.decoder
            && recon == ReconLoss::Bce
            && Op::Conv.used_on(&device)
            && Op::Bce.used_on(&device)
        {
            let pixels = image.iter().product::<usize>() as f64;
            let codes = ae_kernels::linear(z, &head.fc, true);
            let mean = head.conv.recon_mean(head.conv.maps(codes), target, recon);
            return mean.mul_scalar(pixels);
        }
        let raw = self.decode_raw(z, image);
        recon
            .per_sample_sum(raw, target, Activation::Sigmoid)
            .mean()
    }
}

impl Vae {
    /// The importance weights of log p(x) (Burda et al. 2015): for each image of `x`
    /// (`[b, c, h, w]`) and each of its `k` draws `eps` (`[b, k, latent]`, N(0, I)), with
    /// `z = mu + sigma * eps` from q(z|x),
    /// `log w = log p(x|z) + log p(z) - log q(z|x)`, in nats: `[b, k]`. `log p(x|z)` is minus
    /// the reconstruction loss summed over the image (a Bernoulli likelihood for BCE), so
    /// `mean_j log w_j` is a one-sample-each estimate of the ELBO and `log mean_j exp(log w_j)`
    /// a lower bound on log p(x) that tightens as `k` grows.
    pub fn log_weights(
        &self,
        x: Tensor<4>,
        eps: Tensor<3>,
        recon: ReconLoss,
        image: [usize; 3],
    ) -> Tensor<2> {
        let [b, k, latent] = eps.dims();
        let (mu, logvar) = self.posterior(x.clone());
        let sigma = logvar.clone().mul_scalar(0.5).exp();
        let z = mu.unsqueeze_dim::<3>(1) + sigma.unsqueeze_dim::<3>(1) * eps.clone();
        let z = z.reshape([b * k, latent]);
        let raw = self.decode_raw(z.clone(), image);
        let [c, h, w] = image;
        let target = x
            .unsqueeze_dim::<5>(1)
            .repeat_dim(1, k)
            .reshape([b * k, c, h, w]);
        let log_px_z = recon
            .per_sample_sum(raw, target, Activation::Sigmoid)
            .neg()
            .reshape([b, k]);
        // log N(z; 0, I) - log N(z; mu, sigma^2): the 2 pi terms cancel, and
        // (z - mu) / sigma = eps.
        let log_pz = z.square().sum_dim(1).reshape([b, k]).mul_scalar(-0.5);
        let log_qz = (eps.square().sum_dim(2).reshape([b, k]) + logvar.sum_dim(1).reshape([b, 1]))
            .mul_scalar(-0.5);
        log_px_z + log_pz - log_qz
    }
}

impl NetConfig for VaeConfig {
    fn check(&self, image: [usize; 3]) -> Result<(), ConfigError> {
        self.validate(image)
    }

    fn code_size(&self) -> usize {
        self.latent_dim
    }

    fn footprint(&self, image: [usize; 3]) -> Footprint {
        let k = self.latent_dim;
        match &self.arch {
            VaeArch::Dense { input_dim, hidden } => {
                let (enc, features, dec) = dense_widths(*input_dim, hidden, k);
                let heads = Footprint::linear(features, k) + Footprint::linear(features, k);
                Footprint::mlp(&enc) + heads + Footprint::mlp(&dec)
            }
            VaeArch::Conv(c) => {
                let code = c.code_dim();
                let heads = Footprint::linear(code, k) + Footprint::linear(code, k);
                c.encoder_footprint(image)
                    + heads
                    + Footprint::linear(k, code)
                    + c.decoder_footprint(image)
            }
        }
    }

    fn terms(&self) -> Vec<&'static str> {
        Vae::TERMS.to_vec()
    }

    fn per_sample(&self) -> bool {
        true
    }

    fn warmup(&self) -> usize {
        self.warmup_epochs
    }
}

impl Net for Vae {
    /// The code of an input: the posterior mean (deterministic).
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.posterior(x).0
    }

    /// `[batch, latent]` codes -> `[batch, c, h, w]` logits, for samples of `shape`.
    fn decode_raw(&self, z: Tensor<2>, shape: [usize; 3]) -> Tensor<4> {
        let [batch, _] = z.dims();
        match &self.decoder {
            VaeDecoder::Dense(m) => {
                let [c, h, w] = shape;
                m.forward(z).reshape([batch, c, h, w])
            }
            VaeDecoder::Conv(head) => head.conv.forward(ae_kernels::linear(z, &head.fc, true)),
        }
    }

    /// The negative ELBO per image, as reconstruction and KL (both in nats per image); the
    /// total weights the KL by `beta` times the warm-up factor `ctx.anneal`.
    ///
    /// Where the code op runs ([`ae_kernels::gaussian::gaussian_code`]: wgpu), the KL comes
    /// back as a value and its gradient reaches the heads through the draw's backward; the
    /// total and its gradient are the same.
    fn forward_loss(&self, input: Tensor<4>, target: Tensor<4>, ctx: LossContext) -> LossTerms {
        let device = input.device();
        let weight = self.beta * f64::from(ctx.anneal);
        let features = self.features(input);
        let eps = ctx.noise.unwrap_or_else(|| {
            let batch = features.dims()[0];
            Tensor::random([batch, self.mu.weight.dims()[1]], NORMAL, &device)
        });
        // Where the code op runs (wgpu), the heads, the draw and the KL are one op: with
        // Burn's operations for the draw between our layers, Burn's fusion search (0.22.1) met
        // segments it could not order and ran them unfused (60.4 launches a dense VAE step
        // against 49.8 with Burn's layers; README, On a GPU).
        if let Some((z, kl)) = ae_kernels::gaussian::gaussian_code(
            features.clone(),
            &self.mu,
            &self.logvar,
            eps.clone(),
            weight as f32,
        ) {
            let recon = self.recon_per_image(z, target, ctx.recon, ctx.image);
            let total = recon.clone() + kl.clone().mul_scalar(weight);
            return LossTerms::named(total, Self::TERMS, [recon, kl]);
        }
        let (mu, logvar) = self.heads(features);
        let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let recon = self.recon_per_image(z, target, ctx.recon, ctx.image);
        let kl = gaussian_kl(mu, logvar).mean();
        let total = recon.clone() + kl.clone().mul_scalar(weight);
        LossTerms::named(total, Self::TERMS, [recon, kl])
    }

    /// `torch_ae.py`'s `Vae`: `enc`, `mu`, `logvar`, `dec`, `out`; a dense body of one hidden
    /// layer only (the peer's shape).
    fn torch_tensors(&self) -> Result<Vec<TorchTensor>, ExportError> {
        let (VaeBody::Dense(body), VaeDecoder::Dense(dec)) = (&self.body, &self.decoder) else {
            return Err(ExportError::NoPeer("a convolutional VAE".into()));
        };
        let ([enc], [dec, out]) = (body.layers(), dec.layers()) else {
            return Err(ExportError::NoPeer(
                "a VAE without exactly one hidden layer (the peer's 784-400-20 shape)".into(),
            ));
        };
        let mut all = torch::linear("enc", enc)?;
        all.extend(torch::linear("mu", &self.mu)?);
        all.extend(torch::linear("logvar", &self.logvar)?);
        all.extend(torch::linear("dec", dec)?);
        all.extend(torch::linear("out", out)?);
        Ok(all)
    }
}
