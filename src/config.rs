//! A run's complete configuration: the defaults of each model (`config/<model>.json`, compiled
//! in), a `--config` file, and flags on top, validated before anything is built.

use ae_data::DatasetName;
use ae_models::{NetworkConfig, ReconLoss};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The models `train` knows, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    /// Convolutional autoencoder (Keras blog): 3 conv + pool down to 8x4x4, 3 conv + upsample back.
    ConvAe,
    /// Shallow dense autoencoder: 784-32-784, ReLU code, sigmoid output.
    DenseAe,
}

impl ModelName {
    /// Every model, in the order shown to users.
    pub const ALL: [ModelName; 2] = [ModelName::ConvAe, ModelName::DenseAe];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::ConvAe => "conv-ae",
            ModelName::DenseAe => "dense-ae",
        }
    }

    /// The default configuration file's text (`config/<model>.json`).
    pub fn default_config_text(self) -> &'static str {
        match self {
            ModelName::ConvAe => include_str!("../config/conv-ae.json"),
            ModelName::DenseAe => include_str!("../config/dense-ae.json"),
        }
    }

    /// The default configuration.
    pub fn default_config(self) -> RunConfig {
        // The files are checked by a test; a broken one is a build defect, not a user error.
        RunConfig::parse(self.default_config_text(), "built-in default")
            .expect("the built-in config files parse")
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
    /// Handwritten digits.
    Mnist,
    /// Zalando's clothing images.
    FashionMnist,
}

impl From<DatasetArg> for DatasetName {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::Mnist => DatasetName::Mnist,
            DatasetArg::FashionMnist => DatasetName::FashionMnist,
        }
    }
}

/// Everything that decides what a run computes. Saved as `config.json` in the run folder; the
/// weights reload from it alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Which model this is.
    pub model: ModelName,
    /// The network's shape.
    pub network: NetworkConfig,
    /// The reconstruction loss.
    pub loss: ReconLoss,
    /// The data set trained and tested on.
    pub dataset: DatasetArg,
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the weight initialisation and the shuffling.
    pub seed: u64,
    /// Train on the first `limit` training images only (`null`: all).
    pub limit: Option<usize>,
    /// Test on the first `test_limit` test images only (`null`: all).
    pub test_limit: Option<usize>,
}

impl RunConfig {
    /// Parses a complete config; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        serde_json::from_str(text).with_context(|| format!("{source}: not a valid run config"))
    }

    /// Reads a complete config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The config as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config always serialises")
    }

    /// Sets the code size of a dense model; other models have no such knob.
    pub fn set_latent_dim(&mut self, latent: usize) -> Result<()> {
        match &mut self.network {
            NetworkConfig::Dense(c) => c.latent_dim = latent,
            NetworkConfig::Conv(_) => bail!(
                "--latent-dim applies to dense models; {}'s code is fixed by its channels (8x4x4)",
                self.model
            ),
        }
        Ok(())
    }

    /// Checks every number a user can set; the network checks its own sizes when built.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            bail!("epochs must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("batch size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("learning rate must be a positive number, not {}", self.lr);
        }
        if self.limit == Some(0) {
            bail!("--limit must be at least 1");
        }
        if self.test_limit == Some(0) {
            bail!("--test-limit must be at least 1");
        }
        self.network
            .validate([1, 28, 28])
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
        check(&|c| c.set_latent_dim(0).unwrap(), "latent_dim");
        let mut conv = ModelName::ConvAe.default_config();
        assert!(conv.set_latent_dim(4).is_err());
    }
}
