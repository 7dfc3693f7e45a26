//! `ae ood`: autoencoders are data-specific. The reconstruction error of a model on its own
//! test set against another data set's, and how well that error alone tells them apart.

use super::RunArgs;
use super::plot::{Series, histograms};
use super::session::{BATCH, Session};
use super::stats::{mean, roc_auc};
use crate::backend::read_f32;
use crate::config::DatasetArg;
use crate::input::batch::samples_tensor;
use crate::run_dir::write_atomic;
use ae_data::{Samples, Split};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `ae ood`.
#[derive(Debug, clap::Args)]
pub struct OodArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The other data set: mnist, fashion-mnist, or a folder of PNG and JPEG images (resized
    /// to the model's size) [default: fashion-mnist for an MNIST model, mnist otherwise].
    #[arg(long, value_name = "DATASET|DIR")]
    pub against: Option<String>,
    /// Use the first N test images of each set.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The histogram PNG to write (ood.json goes beside it) [default: <run>/ae/ood.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What `ae ood` measured.
#[derive(Debug, Clone, Serialize)]
pub struct OodReport {
    /// The model's own data set.
    pub own: String,
    /// The other one.
    pub against: String,
    /// Images of each.
    pub own_images: usize,
    /// Images of the other.
    pub against_images: usize,
    /// Mean squared error per pixel on the model's own test images.
    pub own_mean_mse: f64,
    /// On the other set's.
    pub against_mean_mse: f64,
    /// ROC AUC of the error as a score for "from the other set" (0.5: no better than chance).
    pub auc: f64,
}

/// Mean squared error per pixel of each image's reconstruction.
fn errors(s: &Session, set: &Samples) -> Result<Vec<f64>> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut out = Vec::with_capacity(set.len());
    let d = set.sample_size();
    for chunk in indices.chunks(BATCH) {
        let x = samples_tensor(set, chunk, &s.device);
        let per_image = (s.model.reconstruct(x.clone()) - x)
            .square()
            .reshape([chunk.len(), d])
            .mean_dim(1);
        out.extend(read_f32(per_image, "errors")?.into_iter().map(f64::from));
    }
    Ok(out)
}

/// What `--against` names.
enum Other {
    /// A published data set.
    Dataset(DatasetArg),
    /// A folder of images.
    Folder(PathBuf),
}

/// Reads `--against`: a data set name, else a folder; by default the other MNIST-like set.
fn other(s: &Session, against: Option<&str>) -> Result<Other> {
    let own = s.cfg.dataset;
    let Some(text) = against else {
        return match own {
            DatasetArg::Mnist => Ok(Other::Dataset(DatasetArg::FashionMnist)),
            DatasetArg::FashionMnist => Ok(Other::Dataset(DatasetArg::Mnist)),
            _ if s.cfg.sample_shape() == [1, 28, 28] => Ok(Other::Dataset(DatasetArg::Mnist)),
            _ => bail!("give --against DIR: a folder of images to compare with"),
        };
    };
    let published = [DatasetArg::Mnist, DatasetArg::FashionMnist];
    if let Some(d) = published.into_iter().find(|d| d.as_str() == text) {
        if d.shape() != Some(s.cfg.sample_shape()) {
            let [c, h, w] = s.cfg.sample_shape();
            bail!("--against {d}: its 1x28x28 images are not the model's {c}x{h}x{w}");
        }
        return Ok(Other::Dataset(d));
    }
    let dir = PathBuf::from(text);
    if !dir.is_dir() {
        bail!("--against {text}: neither mnist, fashion-mnist nor a folder of images");
    }
    Ok(Other::Folder(dir))
}

/// A folder's last name, for the figures.
fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Measures, prints and draws the two error distributions.
pub fn ood(a: &OodArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    s.need_images("ood")?;
    let own = match &s.cfg.folder {
        Some(f) => folder_name(&f.dir),
        None => s.cfg.dataset.to_string(),
    };
    let (against, mut other_set) = match other(&s, a.against.as_deref())? {
        Other::Dataset(d) => (d.to_string(), s.load_dataset(d, Split::Test, a.limit)?),
        Other::Folder(dir) => (
            folder_name(&dir),
            binarized(
                crate::input::folder::load_resized(&dir, s.cfg.sample_shape())?,
                &s.cfg,
            ),
        ),
    };
    if against == own {
        bail!("--against {against}: that is the model's own data set; name another one");
    }
    if let Some(n) = a.limit {
        other_set.truncate(n);
    }
    let own_set = s.load(Split::Test, a.limit)?;
    let own_err = errors(&s, &own_set)?;
    let other_err = errors(&s, &other_set)?;
    let auc =
        roc_auc(&own_err, &other_err).context("reconstruction errors that are not numbers")?;
    let report = OodReport {
        own: own.clone(),
        against: against.clone(),
        own_images: own_err.len(),
        against_images: other_err.len(),
        own_mean_mse: mean(&own_err),
        against_mean_mse: mean(&other_err),
        auc,
    };
    let path = s.output(a.out.as_deref(), "ood.png")?;
    let series = [(&own, &own_err), (&against, &other_err)].map(|(name, e)| Series {
        name: format!("{name} test ({} images)", e.len()),
        points: e.iter().map(|&v| (v, 0.0)).collect(),
    });
    let title = format!("{} trained on {own}: reconstruction error", s.cfg.model);
    histograms(&title, "mean squared error per pixel", &series, 60, &path)?;
    let json = path.with_extension("json");
    write_atomic(&json, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!(
        "mean squared error per pixel: {own} {:.5}, {against} {:.5} ({:.1}x)",
        report.own_mean_mse,
        report.against_mean_mse,
        report.against_mean_mse / report.own_mean_mse.max(1e-12)
    );
    println!(
        "ROC AUC of the error as an out-of-distribution score: {auc:.4} (1: always tells \
         {against} from {own}; 0.5: chance)"
    );
    println!("wrote {} and {}", path.display(), json.display());
    Ok(())
}

/// `set` drawn black and white like the run's own test images when the run was binarised.
fn binarized(mut set: Samples, cfg: &crate::config::RunConfig) -> Samples {
    if cfg.binarize {
        crate::input::data::binarize(&mut set, Split::Test);
    }
    set
}
