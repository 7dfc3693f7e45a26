//! `ae latent-map`: where the test samples land in code space, coloured by label.

use super::plot::{Series, scatter};
use super::session::Session;
use super::{RunArgs, SplitArg};
use ae_models::pca::Pca;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// `ae latent-map`.
#[derive(Debug, clap::Args)]
pub struct LatentMapArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Map the first N samples only [default: the whole split].
    #[arg(long)]
    pub limit: Option<usize>,
    /// The split to map.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// The PNG to write [default: <run>/ae/latent-map.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Plots the codes themselves when they have two numbers; otherwise their projection on the
/// first two principal components of the codes (PCA fitted to these codes).
pub fn latent_map(a: &LatentMapArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    let set = s.load(a.split.into(), a.limit)?;
    let k = s.cfg.network.code_dim();
    if k < 2 {
        bail!("`ae latent-map` needs a code of at least 2 numbers; this one has {k}");
    }
    let n = set.len();
    let indices: Vec<usize> = (0..n).collect();
    let codes = s.codes(&set, &indices)?;
    let (xy, axes): (Vec<(f64, f64)>, (String, String)) = if k == 2 {
        let xy = codes
            .chunks(2)
            .map(|c| (f64::from(c[0]), f64::from(c[1])))
            .collect();
        (xy, ("z0".into(), "z1".into()))
    } else {
        if n < 3 {
            bail!(
                "`ae latent-map` projects {k}-number codes with PCA, which needs 3 samples or more"
            );
        }
        let pca = Pca::fit(&codes, k, &s.device)?;
        let comps = pca.components(2)?;
        let total: f64 = pca.eigen.values.iter().sum::<f64>().max(1e-30);
        let share = |j: usize| 100.0 * pca.eigen.values[j] / total;
        let xy = codes
            .chunks(k)
            .map(|c| {
                let centred = c.iter().zip(&pca.mean).map(|(v, m)| f64::from(v - m));
                let (mut x, mut y) = (0.0, 0.0);
                for (j, v) in centred.enumerate() {
                    x += v * comps[j];
                    y += v * comps[k + j];
                }
                (x, y)
            })
            .collect();
        let axes = (
            format!("PC1 ({:.0}% of the codes' variance)", share(0)),
            format!("PC2 ({:.0}%)", share(1)),
        );
        (xy, axes)
    };
    let series = match s.cfg.class_names() {
        Some(names) => names
            .iter()
            .enumerate()
            .map(|(label, name)| Series {
                name: name.to_string(),
                points: (0..n)
                    .filter(|&i| usize::from(set.label(i)) == label)
                    .map(|i| xy[i])
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect(),
        None => vec![Series {
            name: "samples".into(),
            points: xy,
        }],
    };
    let title = format!(
        "{} codes of {n} {} {} samples",
        s.cfg.model,
        s.cfg.dataset,
        a.split.as_str()
    );
    let path = s.output(a.out.as_deref(), "latent-map.png")?;
    scatter(&title, (&axes.0, &axes.1), &series, &path)?;
    let how = if k == 2 {
        "the 2-D codes".to_string()
    } else {
        format!("the {k}-D codes on their first two principal components")
    };
    println!("wrote {}: {how}", path.display());
    Ok(())
}
