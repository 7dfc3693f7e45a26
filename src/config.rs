//! A run's complete configuration: the defaults of each model (`config/<model>.json`, compiled
//! in), a `--config` file, and flags on top (see `overrides`), validated before anything is built.

use crate::input::folder::FolderConfig;
use ae_data::{DatasetName, Noise};
use ae_models::{NetworkConfig, ReconLoss};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The models `train` knows, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    /// Convolutional (Keras blog): 3 conv + pool down to 8x4x4, 3 conv + upsample back.
    ConvAe,
    /// Shallow dense: 784-32-784, ReLU code, sigmoid output.
    DenseAe,
    /// Deep dense: 784-128-64-32-64-128-784 (widths: --hidden).
    DeepAe,
    /// Dense with a sigmoid code and a sparsity penalty (KL to rho, or L1).
    SparseAe,
    /// Trained on corrupted inputs against clean targets (conv or dense net).
    DenoisingAe,
    /// Variational: Gaussian code, reparameterisation, KL to N(0, I); 784-400-20.
    Vae,
    /// No activations, MSE: lands on PCA's subspace.
    LinearAe,
    /// The 4-bit one-hot -> 2-bit sigmoid code -> 4-bit toy.
    BinaryAe,
}

impl ModelName {
    /// Every model, in the order shown to users.
    pub const ALL: [ModelName; 8] = [
        ModelName::ConvAe,
        ModelName::DenseAe,
        ModelName::DeepAe,
        ModelName::SparseAe,
        ModelName::DenoisingAe,
        ModelName::Vae,
        ModelName::LinearAe,
        ModelName::BinaryAe,
    ];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::ConvAe => "conv-ae",
            ModelName::DenseAe => "dense-ae",
            ModelName::DeepAe => "deep-ae",
            ModelName::SparseAe => "sparse-ae",
            ModelName::DenoisingAe => "denoising-ae",
            ModelName::Vae => "vae",
            ModelName::LinearAe => "linear-ae",
            ModelName::BinaryAe => "binary-ae",
        }
    }

    /// The default configuration file's text (`config/<model>.json`).
    pub fn default_config_text(self) -> &'static str {
        match self {
            ModelName::ConvAe => include_str!("../config/conv-ae.json"),
            ModelName::DenseAe => include_str!("../config/dense-ae.json"),
            ModelName::DeepAe => include_str!("../config/deep-ae.json"),
            ModelName::SparseAe => include_str!("../config/sparse-ae.json"),
            ModelName::DenoisingAe => include_str!("../config/denoising-ae.json"),
            ModelName::Vae => include_str!("../config/vae.json"),
            ModelName::LinearAe => include_str!("../config/linear-ae.json"),
            ModelName::BinaryAe => include_str!("../config/binary-ae.json"),
        }
    }

    /// The default configuration.
    pub fn default_config(self) -> RunConfig {
        // The files are checked by a test; a broken one is a build defect, not a user error.
        RunConfig::parse(self.default_config_text(), "built-in default")
            .expect("the built-in config files parse")
    }

    /// Whether `network` is a kind of network this model is.
    pub fn accepts(self, network: &NetworkConfig) -> bool {
        use NetworkConfig as N;
        match self {
            ModelName::ConvAe => matches!(network, N::Conv(_) | N::ConvWide(_)),
            ModelName::DenoisingAe => {
                matches!(network, N::Conv(_) | N::ConvWide(_) | N::Dense(_))
            }
            ModelName::SparseAe => matches!(network, N::Sparse(_)),
            ModelName::Vae => matches!(network, N::Vae(_)),
            ModelName::DenseAe | ModelName::DeepAe | ModelName::LinearAe | ModelName::BinaryAe => {
                matches!(network, N::Dense(_))
            }
        }
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A data set as named in configs and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetArg {
    /// Handwritten digits (28x28).
    Mnist,
    /// Zalando's clothing images (28x28).
    FashionMnist,
    /// Generated: 3-D points near a plane (the linear autoencoder's PCA case).
    Plane3d,
    /// Generated: the four one-hot 4-bit vectors (the binary-code toy).
    Onehot4,
    /// Your own images: a folder of PNG and JPEG files (--data-dir DIR).
    Folder,
}

impl DatasetArg {
    /// The name as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetArg::Mnist => "mnist",
            DatasetArg::FashionMnist => "fashion-mnist",
            DatasetArg::Plane3d => "plane3d",
            DatasetArg::Onehot4 => "onehot4",
            DatasetArg::Folder => "folder",
        }
    }

    /// Whether the samples are images (pictures of them make sense).
    pub fn is_images(self) -> bool {
        matches!(
            self,
            DatasetArg::Mnist | DatasetArg::FashionMnist | DatasetArg::Folder
        )
    }

    /// The published image data set behind this name, if it is one.
    pub fn images(self) -> Option<DatasetName> {
        match self {
            DatasetArg::Mnist => Some(DatasetName::Mnist),
            DatasetArg::FashionMnist => Some(DatasetName::FashionMnist),
            DatasetArg::Plane3d | DatasetArg::Onehot4 | DatasetArg::Folder => None,
        }
    }

    /// `[channels, height, width]` of one sample (a vector of `d` numbers is `[1, 1, d]`);
    /// `None` for a folder, whose images tell.
    pub fn shape(self) -> Option<[usize; 3]> {
        match self {
            DatasetArg::Mnist | DatasetArg::FashionMnist => Some([1, 28, 28]),
            DatasetArg::Plane3d => Some([1, 1, 3]),
            DatasetArg::Onehot4 => Some([1, 1, 4]),
            DatasetArg::Folder => None,
        }
    }

    /// The code size the lecture notes use on a generated set (2 for both).
    pub fn natural_code(self) -> Option<usize> {
        (!self.is_images()).then_some(2)
    }
}

impl std::fmt::Display for DatasetArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest batch a run accepts: about a million samples, far above any data set here, so
/// that a typo cannot ask for memory the machine does not have.
pub const MAX_BATCH_SIZE: usize = 1 << 20;

/// Everything that decides what a run computes. Saved as `config.json` in the run folder; the
/// weights reload from it alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which model this is.
    pub model: ModelName,
    /// The network's shape (and its regulariser).
    pub network: NetworkConfig,
    /// The reconstruction loss.
    pub loss: ReconLoss,
    /// How training and test inputs are corrupted (`null`: not at all; denoising-ae only).
    #[serde(default)]
    pub noise: Option<Noise>,
    /// The data set trained and tested on.
    pub dataset: DatasetArg,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Adam's epsilon (absent: 1e-8, PyTorch's and Burn's; Keras's is 1e-7).
    #[serde(default = "default_adam_eps")]
    pub adam_eps: f64,
    /// Seed of the weight initialisation, the shuffling, the noise and generated data.
    pub seed: u64,
    /// Train on the first `limit` training samples only (`null`: all).
    pub limit: Option<usize>,
    /// Test on the first `test_limit` test samples only (`null`: all).
    pub test_limit: Option<usize>,
    /// Every pixel drawn once as 0 or 1, with its grey value as the probability (absent: the
    /// grey values as they are).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binarize: bool,
    /// The folder of images when `dataset` is `folder` (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<FolderConfig>,
}

/// Adam's epsilon when a config does not say: PyTorch's and Burn's 1e-8.
fn default_adam_eps() -> f64 {
    1e-8
}

impl RunConfig {
    /// Parses a complete config; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        serde_json::from_str(text).with_context(|| format!("{source}: not a valid run config"))
    }

    /// Reads a complete config file and checks it (see [`RunConfig::validate`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let cfg = Self::parse(&text, &path.display().to_string())?;
        cfg.validate()
            .with_context(|| format!("{}: not a usable run config", path.display()))?;
        Ok(cfg)
    }

    /// The config as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config always serialises")
    }

    /// `[channels, height, width]` of the samples (`[0, 0, 0]` for a folder without its
    /// settings, which [`RunConfig::validate`] refuses).
    pub fn sample_shape(&self) -> [usize; 3] {
        match (&self.folder, self.dataset.shape()) {
            (Some(f), _) => f.shape,
            (None, Some(shape)) => shape,
            (None, None) => [0, 0, 0],
        }
    }

    /// The names of the classes the labels number, if the data has labels.
    pub fn class_names(&self) -> Option<Vec<String>> {
        match (&self.folder, self.dataset.images()) {
            (Some(f), _) if !f.classes.is_empty() => Some(f.classes.clone()),
            (None, Some(d)) => Some(d.class_names().iter().map(|s| s.to_string()).collect()),
            _ => None,
        }
    }

    /// The unit of the loss figures: per pixel, or summed per image (nats for BCE).
    pub fn loss_unit(&self) -> &'static str {
        match (self.network.loss_per_sample(), self.loss) {
            (false, _) => "per pixel",
            (true, ReconLoss::Bce) => "nats per image",
            (true, ReconLoss::Mse) => "per image",
        }
    }

    /// Checks every number a user can set; the network checks its own sizes.
    pub fn validate(&self) -> Result<()> {
        if !self.model.accepts(&self.network) {
            bail!(
                "{} cannot use a network of this kind; start from config/{}.json",
                self.model,
                self.model
            );
        }
        if self.epochs == 0 {
            bail!("epochs must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        if self.batch_size > MAX_BATCH_SIZE {
            bail!(
                "batch size must be at most {MAX_BATCH_SIZE}, not {}",
                self.batch_size
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("learning rate must be a positive number, not {}", self.lr);
        }
        if !(self.adam_eps.is_finite() && self.adam_eps > 0.0) {
            bail!(
                "--adam-eps must be a positive number, not {}",
                self.adam_eps
            );
        }
        if self.limit == Some(0) {
            bail!("--limit must be at least 1");
        }
        if self.test_limit == Some(0) {
            bail!("--test-limit must be at least 1");
        }
        if self.binarize && !self.dataset.is_images() {
            bail!(
                "--binarize applies to image data sets, not {}",
                self.dataset
            );
        }
        match (self.model, &self.noise) {
            (ModelName::DenoisingAe, None) => {
                bail!("denoising-ae needs a noise (--noise gaussian or --noise masking)")
            }
            (ModelName::DenoisingAe, Some(n)) => n.validate().map_err(anyhow::Error::msg)?,
            (_, Some(_)) => bail!("noise applies to denoising-ae only, not {}", self.model),
            (_, None) => {}
        }
        if self.loss == ReconLoss::Bce && self.network.output() != ae_models::Activation::Sigmoid {
            bail!(
                "binary cross-entropy needs a sigmoid output; {} has a linear one: use --loss mse",
                self.model
            );
        }
        match (self.dataset, &self.folder) {
            (DatasetArg::Folder, None) => bail!(
                "the folder data set needs its folder: train with --dataset folder --data-dir DIR"
            ),
            (DatasetArg::Folder, Some(f)) => f.validate()?,
            (d, Some(_)) => bail!("folder settings apply to --dataset folder, not {d}"),
            (_, None) => {}
        }
        let conv = matches!(
            self.network,
            NetworkConfig::Conv(_) | NetworkConfig::ConvWide(_)
        );
        if !self.dataset.is_images() && conv {
            let fix = if self.model == ModelName::ConvAe {
                "train a dense model (dense-ae, deep-ae, linear-ae, binary-ae) on it"
            } else {
                "use --arch dense"
            };
            bail!(
                "the {} data set holds vectors, not images: {fix}",
                self.dataset
            );
        }
        self.network
            .validate(self.sample_shape())
            .map_err(anyhow::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_file_parses_validates_and_names_its_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let cfg = RunConfig::load(&path).unwrap();
            cfg.validate().unwrap();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert_eq!(
                cfg.model.as_str(),
                stem,
                "{} names another model",
                path.display()
            );
            // Complete: writing it back gives every field the file has, and no more.
            let back: serde_json::Value = serde_json::from_str(&cfg.to_json()).unwrap();
            let file: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(back, file, "{} is not complete", path.display());
            seen.push(cfg.model);
        }
        for model in ModelName::ALL {
            assert!(seen.contains(&model), "config/{model}.json is missing");
            model.default_config().validate().unwrap();
        }
    }

    #[test]
    fn a_config_missing_a_field_or_with_an_unknown_one_is_refused() {
        let text = ModelName::DenseAe.default_config_text();
        let missing = text.replace("\"seed\": 42,", "");
        let err = format!("{:#}", RunConfig::parse(&missing, "f.json").unwrap_err());
        assert!(err.contains("f.json") && err.contains("seed"), "{err}");
        let extra = text.replace("\"seed\": 42,", "\"seed\": 42, \"sead\": 1,");
        let err = format!("{:#}", RunConfig::parse(&extra, "f.json").unwrap_err());
        assert!(err.contains("sead"), "{err}");
    }

    #[test]
    fn bad_numbers_are_refused_with_their_name() {
        let base = ModelName::DenseAe.default_config();
        let check = |f: &dyn Fn(&mut RunConfig), needle: &str| {
            let mut c = base.clone();
            f(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        };
        check(&|c| c.epochs = 0, "epochs");
        check(&|c| c.batch_size = 0, "batch size");
        check(&|c| c.lr = -1.0, "learning rate");
        check(&|c| c.lr = f64::NAN, "learning rate");
        check(
            &|c| c.network.dense_mut().unwrap().latent_dim = 0,
            "latent_dim",
        );
        check(
            &|c| c.network.dense_mut().unwrap().latent_dim = 800,
            "--overcomplete",
        );
        check(
            &|c| c.noise = Some(Noise::Gaussian { std: 0.5 }),
            "denoising-ae only",
        );
        check(
            &|c| c.network = ModelName::ConvAe.default_config().network,
            "cannot use",
        );
        let mut d = ModelName::DenoisingAe.default_config();
        d.noise = Some(Noise::Masking { drop: 1.5 });
        assert!(d.validate().unwrap_err().to_string().contains("drop"));
        d.noise = None;
        assert!(
            d.validate()
                .unwrap_err()
                .to_string()
                .contains("needs a noise")
        );
    }
}
