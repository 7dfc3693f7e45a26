//! From a command line to a complete run config: the defaults (or `--config`), then each flag
//! given, each checked against the model it applies to.

use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::run_dir::{self, RunDir};
use crate::train::cli::{ArchArg, NoiseArg, SparsityArg, TrainArgs};
use crate::train::defaults;
use ae_data::Noise;
use ae_models::{ConvAeConfig, NetworkConfig, Sparsity, VaeArch};
use anyhow::{Context, Result, bail};
use std::path::Path;

/// Batch size, learning rate and epochs that `--dataset plane3d` starts from (its 1000 points
/// need smaller steps than 60,000 images): within 1% of PCA's error.
pub const PLANE3D_SCHEDULE: (usize, f64, usize) = (32, 0.003, 50);

/// Parses `--hidden`: `128,64`, or `none` / empty for no hidden layer.
pub fn parse_hidden(text: &str) -> Result<Vec<usize>> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|w| {
            w.trim()
                .parse::<usize>()
                .with_context(|| format!("--hidden {text}: '{}' is not a width", w.trim()))
        })
        .collect()
}

/// Gives `cfg` the body `--arch` names: conv-ae's convolutions, dense layers, or the wide net,
/// where the model takes it (conv-ae, denoising-ae, vae); a clear error elsewhere.
pub fn set_arch(cfg: &mut RunConfig, arch: ArchArg) -> Result<()> {
    let conv = || ModelName::ConvAe.default_config().network;
    let dense = || ModelName::DenseAe.default_config().network;
    let pixels = cfg.sample_shape().iter().product();
    match (cfg.model, &mut cfg.network, arch) {
        (ModelName::ConvAe | ModelName::DenoisingAe, net, ArchArg::Conv) => *net = conv(),
        (ModelName::ConvAe | ModelName::DenoisingAe, net, ArchArg::Wide) => {
            *net = NetworkConfig::ConvWide(defaults::wide());
        }
        (ModelName::DenoisingAe, net, ArchArg::Dense) => *net = dense(),
        (ModelName::Vae, NetworkConfig::Vae(v), ArchArg::Conv) => {
            v.arch = VaeArch::Conv(defaults::conv()?);
        }
        (ModelName::Vae, NetworkConfig::Vae(v), ArchArg::Dense) => {
            v.arch = VaeArch::Dense {
                input_dim: pixels,
                hidden: vec![400],
            };
        }
        (ModelName::ConvAe, _, ArchArg::Dense) => {
            bail!("conv-ae takes --arch conv or wide; for dense layers train dense-ae")
        }
        (ModelName::Vae, _, ArchArg::Wide) => {
            bail!("vae takes --arch conv or dense; --arch wide is for conv-ae and denoising-ae")
        }
        (model, _, _) => bail!("--arch applies to conv-ae, denoising-ae and vae, not {model}"),
    }
    Ok(())
}

impl TrainArgs {
    /// The config of the run in `out` that `--resume` continues: the one it was started with,
    /// with a new `--epochs` or `--lr` if given. Any other flag that would change it is refused.
    pub fn resumed_config(&self, out: &Path) -> Result<RunConfig> {
        if self.config.is_some() {
            bail!(
                "--resume continues with {}; leave out --config",
                out.join(run_dir::CONFIG).display()
            );
        }
        let saved = RunDir::existing(out)?.load_config()?;
        if saved.model != self.model {
            bail!(
                "{} holds a {} run, not {}",
                out.display(),
                saved.model,
                self.model
            );
        }
        let mut args = self.clone();
        args.config = Some(out.join(run_dir::CONFIG));
        let cfg = args.config()?;
        let mut unchanged = cfg.clone();
        (unchanged.epochs, unchanged.lr) = (saved.epochs, saved.lr);
        if unchanged.to_json() != saved.to_json() {
            bail!(
                "--resume continues the run as {} configures it; only --epochs and --lr may \
                 change: leave out the other flags",
                out.join(run_dir::CONFIG).display()
            );
        }
        Ok(cfg)
    }

    /// The config this command line asks for: defaults or `--config`, then the flags.
    pub fn config(&self) -> Result<RunConfig> {
        let mut cfg = match &self.config {
            Some(path) => {
                let cfg = RunConfig::load(path)?;
                if cfg.model != self.model {
                    bail!(
                        "{} configures {}, not {}",
                        path.display(),
                        cfg.model,
                        self.model
                    );
                }
                cfg
            }
            None => self.model.default_config(),
        };
        self.apply_arch(&mut cfg)?;
        self.apply_init(&mut cfg)?;
        match self.dataset {
            Some(DatasetArg::Folder) => self.apply_folder(&mut cfg)?,
            Some(d) => set_dataset(&mut cfg, d, self.latent_dim.is_some()),
            None => self.refuse_folder_flags()?,
        }
        self.apply_sizes(&mut cfg)?;
        self.apply_sparsity(&mut cfg)?;
        self.apply_vae(&mut cfg)?;
        self.apply_noise(&mut cfg)?;
        if let Some(n) = self.epochs {
            cfg.epochs = n;
        }
        if let Some(n) = self.batch_size {
            cfg.batch_size = n;
        }
        if let Some(lr) = self.lr {
            cfg.lr = lr;
        }
        if let Some(eps) = self.adam_eps {
            cfg.adam_eps = eps;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(l) = self.loss {
            cfg.loss = l.into();
        }
        if self.binarize {
            cfg.binarize = true;
        }
        if self.limit.is_some() {
            cfg.limit = self.limit;
        }
        if self.test_limit.is_some() {
            cfg.test_limit = self.test_limit;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_init(&self, cfg: &mut RunConfig) -> Result<()> {
        let Some(init) = self.init else {
            return Ok(());
        };
        match &mut cfg.network {
            NetworkConfig::ConvWide(w) => w.init = init.into(),
            _ => bail!("--init applies to --arch wide; the other nets start as PyTorch's do"),
        }
        Ok(())
    }

    fn apply_arch(&self, cfg: &mut RunConfig) -> Result<()> {
        match self.arch {
            Some(arch) => set_arch(cfg, arch),
            None => Ok(()),
        }
    }

    fn apply_sizes(&self, cfg: &mut RunConfig) -> Result<()> {
        let model = cfg.model;
        let hidden = self.hidden.as_deref().map(parse_hidden).transpose()?;
        match &mut cfg.network {
            NetworkConfig::Vae(v) => {
                if let Some(n) = self.latent_dim {
                    v.latent_dim = n;
                }
                if let Some(h) = hidden {
                    match &mut v.arch {
                        VaeArch::Dense { hidden, .. } => *hidden = h,
                        VaeArch::Conv(_) => {
                            bail!("--hidden applies to the dense vae, not --arch conv")
                        }
                    }
                }
                if self.overcomplete {
                    bail!("--overcomplete applies to the dense autoencoders, not {model}");
                }
            }
            net => {
                let Some(d) = net.dense_mut() else {
                    if self.latent_dim.is_some() || hidden.is_some() || self.overcomplete {
                        bail!(
                            "--latent-dim, --hidden and --overcomplete apply to dense models and \
                             the vae; {model}'s code is fixed by its channels (8x4x4)"
                        );
                    }
                    return Ok(());
                };
                if let Some(n) = self.latent_dim {
                    d.latent_dim = n;
                }
                if let Some(h) = hidden {
                    d.hidden = h;
                }
                d.overcomplete |= self.overcomplete;
            }
        }
        Ok(())
    }

    fn apply_sparsity(&self, cfg: &mut RunConfig) -> Result<()> {
        let NetworkConfig::Sparse(s) = &mut cfg.network else {
            if self.sparsity.is_some() || self.l1_weight.is_some() || self.rho.is_some() {
                bail!(
                    "--sparsity, --l1-weight and --rho apply to sparse-ae, not {}",
                    cfg.model
                );
            }
            if self.beta.is_some() && cfg.model != ModelName::Vae {
                bail!("--beta applies to sparse-ae and vae, not {}", cfg.model);
            }
            return Ok(());
        };
        match (self.sparsity, s.sparsity) {
            (Some(SparsityArg::L1), Sparsity::Kl { .. }) => s.sparsity = defaults::l1(),
            (Some(SparsityArg::Kl), Sparsity::L1 { .. }) => s.sparsity = defaults::kl()?,
            _ => {}
        }
        match &mut s.sparsity {
            Sparsity::L1 { weight } => {
                if self.rho.is_some() || self.beta.is_some() {
                    bail!("--rho and --beta apply to --sparsity kl; L1 takes --l1-weight");
                }
                if let Some(w) = self.l1_weight {
                    *weight = w;
                }
            }
            Sparsity::Kl { rho, beta } => {
                if self.l1_weight.is_some() {
                    bail!("--l1-weight applies to --sparsity l1; KL takes --rho and --beta");
                }
                if let Some(r) = self.rho {
                    *rho = r;
                }
                if let Some(b) = self.beta {
                    *beta = b;
                }
            }
        }
        Ok(())
    }

    fn apply_vae(&self, cfg: &mut RunConfig) -> Result<()> {
        let NetworkConfig::Vae(v) = &mut cfg.network else {
            if self.warmup.is_some() {
                bail!("--warmup applies to vae, not {}", cfg.model);
            }
            return Ok(());
        };
        if let Some(b) = self.beta {
            v.beta = b;
        }
        if let Some(w) = self.warmup {
            v.warmup_epochs = w;
        }
        Ok(())
    }

    fn apply_noise(&self, cfg: &mut RunConfig) -> Result<()> {
        if cfg.model != ModelName::DenoisingAe {
            if self.noise.is_some() || self.noise_std.is_some() || self.drop.is_some() {
                bail!(
                    "--noise, --noise-std and --drop apply to denoising-ae, not {}",
                    cfg.model
                );
            }
            return Ok(());
        }
        let current = match cfg.noise {
            Some(n) => n,
            None => defaults::gaussian()?,
        };
        let mut noise = match (self.noise, current) {
            (Some(NoiseArg::Gaussian), Noise::Masking { .. }) => defaults::gaussian()?,
            (Some(NoiseArg::Masking), Noise::Gaussian { .. }) => defaults::masking(),
            (_, n) => n,
        };
        match &mut noise {
            Noise::Gaussian { std } => {
                if self.drop.is_some() {
                    bail!("--drop applies to --noise masking; gaussian noise takes --noise-std");
                }
                if let Some(s) = self.noise_std {
                    *std = s;
                }
            }
            Noise::Masking { drop } => {
                if self.noise_std.is_some() {
                    bail!("--noise-std applies to --noise gaussian; masking takes --drop");
                }
                if let Some(d) = self.drop {
                    *drop = d;
                }
            }
        }
        cfg.noise = Some(noise);
        Ok(())
    }
}

/// Switches to a published or generated data set (see [`fit_inputs`]).
fn set_dataset(cfg: &mut RunConfig, dataset: DatasetArg, latent_given: bool) {
    if dataset == DatasetArg::Plane3d && cfg.dataset != dataset {
        // 1000 points: the image schedule would make 4 steps an epoch. Flags still override.
        (cfg.batch_size, cfg.lr, cfg.epochs) = PLANE3D_SCHEDULE;
    }
    cfg.dataset = dataset;
    cfg.folder = None;
    fit_inputs(cfg, latent_given);
}

/// Fits the network to the data set's samples: a fully connected network takes their size, a
/// convolutional one their channels, and on a generated set a code not smaller than the input
/// shrinks to the set's natural size (2) unless `--latent-dim` was given.
pub(super) fn fit_inputs(cfg: &mut RunConfig, latent_given: bool) {
    let shape = cfg.sample_shape();
    let inputs: usize = shape.iter().product();
    let natural = cfg.dataset.natural_code();
    let shrink = |latent: &mut usize| {
        if let Some(n) = natural
            && !latent_given
            && *latent >= inputs
        {
            *latent = n;
        }
    };
    match &mut cfg.network {
        NetworkConfig::Vae(v) => match &mut v.arch {
            VaeArch::Dense { input_dim, .. } => {
                *input_dim = inputs;
                shrink(&mut v.latent_dim);
            }
            VaeArch::Conv(c) => fit_conv(c, shape),
        },
        NetworkConfig::Conv(c) => fit_conv(c, shape),
        NetworkConfig::ConvWide(c) => {
            c.in_channels = shape[0];
            c.image_size = (shape[1..] != [28, 28]).then_some([shape[1], shape[2]]);
        }
        net => {
            if let Some(d) = net.dense_mut() {
                d.input_dim = inputs;
                shrink(&mut d.latent_dim);
            }
        }
    }
}

/// A convolutional network takes the images' channels and size (`null` for MNIST's 28x28, as
/// the config files say).
fn fit_conv(c: &mut ConvAeConfig, [channels, h, w]: [usize; 3]) {
    c.in_channels = channels;
    c.image_size = ([h, w] != [28, 28]).then_some([h, w]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_models::WideInit;
    use clap::Parser;

    fn config(args: &str) -> Result<RunConfig> {
        let argv = std::iter::once("train").chain(args.split_whitespace());
        TrainArgs::try_parse_from(argv).unwrap().config()
    }

    fn err(args: &str) -> String {
        format!("{:#}", config(args).unwrap_err())
    }

    #[test]
    fn hidden_widths_parse() {
        assert_eq!(parse_hidden("128,64").unwrap(), vec![128, 64]);
        assert_eq!(parse_hidden(" 5 ").unwrap(), vec![5]);
        assert!(parse_hidden("none").unwrap().is_empty());
        assert!(
            parse_hidden("12,x")
                .unwrap_err()
                .to_string()
                .contains("'x'")
        );
    }

    #[test]
    fn flags_reach_the_config() {
        let c = config("deep-ae --hidden 256,128 --latent-dim 16").unwrap();
        let d = c.network.dense().unwrap();
        assert_eq!((d.hidden.clone(), d.latent_dim), (vec![256, 128], 16));
        let c = config("linear-ae --dataset plane3d").unwrap();
        let d = c.network.dense().unwrap();
        assert_eq!((d.input_dim, d.latent_dim), (3, 2));
        assert_eq!((c.batch_size, c.lr, c.epochs), PLANE3D_SCHEDULE);
        let c = config("linear-ae --dataset plane3d --epochs 7 --latent-dim 1").unwrap();
        assert_eq!((c.epochs, c.network.dense().unwrap().latent_dim), (7, 1));
        let c = config("sparse-ae --sparsity l1 --l1-weight 0.001").unwrap();
        assert!(
            matches!(c.network, NetworkConfig::Sparse(ref s) if s.sparsity == Sparsity::L1 { weight: 0.001 })
        );
        let c = config("denoising-ae --arch dense --noise masking --drop 0.25").unwrap();
        assert_eq!(c.noise, Some(Noise::Masking { drop: 0.25 }));
        assert!(matches!(c.network, NetworkConfig::Dense(_)));
        let c = config("vae --arch conv --latent-dim 2 --beta 4 --warmup 3").unwrap();
        let NetworkConfig::Vae(v) = c.network else {
            panic!("not a vae")
        };
        assert!(matches!(v.arch, VaeArch::Conv(_)));
        assert_eq!((v.latent_dim, v.beta, v.warmup_epochs), (2, 4.0, 3));
        let c = config("deep-ae --latent-dim 1000 --overcomplete").unwrap();
        assert!(c.network.dense().unwrap().overcomplete);
        let c = config("conv-ae --arch wide --init glorot --adam-eps 1e-7").unwrap();
        assert!(matches!(c.network, NetworkConfig::ConvWide(ref w) if w.init == WideInit::Glorot));
        assert_eq!(c.adam_eps, 1e-7);
        assert_eq!(config("conv-ae --arch wide").unwrap().adam_eps, 1e-8);
    }

    #[test]
    fn flags_for_another_model_are_refused_by_name() {
        assert!(err("conv-ae --latent-dim 4").contains("--latent-dim"));
        assert!(err("dense-ae --rho 0.1").contains("apply to sparse-ae"));
        assert!(err("dense-ae --beta 2").contains("--beta applies to sparse-ae and vae"));
        assert!(err("vae --noise gaussian").contains("apply to denoising-ae"));
        assert!(err("conv-ae --arch dense").contains("conv-ae takes --arch conv or wide"));
        assert!(err("vae --arch wide").contains("vae takes --arch conv or dense"));
        assert!(
            err("dense-ae --arch wide").contains("--arch applies to conv-ae, denoising-ae and vae")
        );
        assert!(err("sparse-ae --l1-weight 1").contains("--sparsity l1"));
        assert!(err("sparse-ae --sparsity l1 --rho 0.1").contains("--rho and --beta"));
        assert!(err("denoising-ae --drop 0.2").contains("--noise masking"));
        assert!(err("dense-ae --warmup 2").contains("--warmup applies to vae"));
        assert!(err("deep-ae --latent-dim 1000").contains("--overcomplete"));
        assert!(err("sparse-ae --rho 1.5").contains("rho"));
        assert!(err("linear-ae --loss bce").contains("sigmoid output"));
        assert!(err("conv-ae --dataset onehot4").contains("train a dense model"));
        assert!(err("denoising-ae --dataset plane3d").contains("--arch dense"));
        assert!(err("conv-ae --init glorot").contains("--init applies to --arch wide"));
        assert!(err("dense-ae --adam-eps 0").contains("--adam-eps must be a positive number"));
        assert!(err("dense-ae --adam-eps -0.1").contains("--adam-eps must be a positive number"));
    }
}
