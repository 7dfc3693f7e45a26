//! Where each default lives, once: a model's settings in its `config/<model>.json` (built into
//! the binary), and the two numbers no default config holds (the L1 weight `--sparsity l1`
//! starts from, the fraction `--noise masking` starts from) as constants here. The `train
//! --help` text and the flags that switch a penalty or a noise read them from there.

use crate::config::{ModelName, RunConfig};
use ae_data::Noise;
use ae_models::{ConvAeConfig, ConvWideConfig, NetworkConfig, Sparsity, WideInit};
use anyhow::{Result, bail};
use serde::Serialize;

/// The L1 weight `--sparsity l1` starts from (the lecture notes' Keras example).
pub const L1_WEIGHT: f64 = 1e-5;
/// The fraction of pixels `--noise masking` drops unless `--drop` says otherwise.
pub const MASKING_DROP: f32 = 0.3;

/// The L1 penalty `--sparsity l1` starts from.
pub fn l1() -> Sparsity {
    Sparsity::L1 { weight: L1_WEIGHT }
}

/// The masking noise `--noise masking` starts from.
pub fn masking() -> Noise {
    Noise::Masking { drop: MASKING_DROP }
}

/// The KL penalty `--sparsity kl` starts from: sparse-ae's default.
pub fn kl() -> Result<Sparsity> {
    match ModelName::SparseAe.default_config().network {
        NetworkConfig::Sparse(s) if matches!(s.sparsity, Sparsity::Kl { .. }) => Ok(s.sparsity),
        _ => bail!("config/sparse-ae.json holds no KL penalty to start --sparsity kl from"),
    }
}

/// The Gaussian noise `--noise gaussian` starts from: denoising-ae's default.
pub fn gaussian() -> Result<Noise> {
    match ModelName::DenoisingAe.default_config().noise {
        Some(n @ Noise::Gaussian { .. }) => Ok(n),
        _ => bail!("config/denoising-ae.json holds no Gaussian noise to start --noise from"),
    }
}

/// The convolutional body `--arch conv` gives: conv-ae's.
pub fn conv() -> Result<ConvAeConfig> {
    match ModelName::ConvAe.default_config().network {
        NetworkConfig::Conv(c) => Ok(c),
        _ => bail!("config/conv-ae.json holds no convolutional network for --arch conv"),
    }
}

/// The body `--arch wide` gives: keras.io's denoising net, 32 channels, for 28x28 grey images
/// (fitted to the data set's images afterwards).
pub fn wide() -> ConvWideConfig {
    ConvWideConfig {
        in_channels: 1,
        channels: 32,
        image_size: None,
        init: WideInit::Kaiming,
    }
}

/// A setting across the default configs, for help text: `0.001` when every model has it,
/// `bce; mse for linear-ae` when some differ (the most common value first). Models the
/// setting does not apply to (`None`) are left out.
pub fn across_models<T: Serialize>(setting: impl Fn(&RunConfig) -> Option<T>) -> String {
    let mut values: Vec<(String, Vec<ModelName>)> = Vec::new();
    for model in ModelName::ALL {
        let Some(v) = setting(&model.default_config()) else {
            continue;
        };
        let text = shown(&v);
        match values.iter_mut().find(|(t, _)| *t == text) {
            Some((_, models)) => models.push(model),
            None => values.push((text, vec![model])),
        }
    }
    // Stable: among equally common values, the first model's comes first.
    values.sort_by_key(|(_, models)| std::cmp::Reverse(models.len()));
    let mut parts = values.into_iter();
    let Some((first, _)) = parts.next() else {
        return String::new();
    };
    let rest: Vec<String> = parts
        .map(|(text, models)| {
            let names: Vec<String> = models.iter().map(ToString::to_string).collect();
            format!("{text} for {}", names.join(", "))
        })
        .collect();
    std::iter::once(first)
        .chain(rest)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value as the JSON config writes it (strings without quotes).
fn shown<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// `text` followed by ` [default: <default>]`.
pub fn help(text: &str, default: impl std::fmt::Display) -> String {
    format!("{text} [default: {default}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_other_flags_start_from_are_in_the_default_configs() {
        assert!(matches!(kl().unwrap(), Sparsity::Kl { .. }));
        assert!(matches!(gaussian().unwrap(), Noise::Gaussian { .. }));
        assert_eq!(conv().unwrap().kernel_size, 3);
    }

    #[test]
    fn settings_are_summarised_across_models() {
        assert_eq!(across_models(|c| Some(c.seed)), "42");
        assert_eq!(across_models(|c| Some(c.lr)), "0.001; 0.01 for binary-ae");
        assert_eq!(across_models(|c| Some(c.loss)), "bce; mse for linear-ae");
        assert_eq!(
            across_models(|c| Some(c.dataset)),
            "mnist; onehot4 for binary-ae"
        );
        // Only the models a setting applies to.
        assert_eq!(
            across_models(|c| c.noise),
            r#"{"kind":"gaussian","std":0.5}"#
        );
        assert_eq!(across_models(|_| None::<u8>), "");
    }
}
