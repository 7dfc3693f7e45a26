//! Pictures made from codes rather than images: decodes of codes from a file, a VAE's samples,
//! a 2-D VAE's manifold, and the features (first-layer weights) of dense models.

use super::RunArgs;
use super::codes::read_codes;
use super::figures::{self, IMAGE_SCALE, SAMPLE_SCALE};
use super::session::Session;
use super::stats::normal_quantile;
use crate::backend::read_f32;
use crate::picture::Grid;
use ae_data::Split;
use ae_models::Network;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// `ae decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Codes to decode: a CSV file (one code per row; a header naming z0, z1, ... columns, as
    /// `ae encode` writes, picks those columns) or a 2-D float .npy array.
    #[arg(value_name = "CODES")]
    pub codes: PathBuf,
    /// Decode the first N codes of the file.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Tiles per row.
    #[arg(long, default_value_t = 10)]
    pub cols: usize,
    /// The PNG to write [default: <run>/ae/decode.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Decodes the codes in a file into a grid of images.
pub fn decode(a: &DecodeArgs) -> Result<()> {
    if a.count == 0 || a.cols == 0 {
        bail!("--count and --cols must be at least 1");
    }
    let s = Session::open(&a.run)?;
    s.need_images("decode")?;
    let k = s.cfg.network.code_dim();
    let codes = read_codes(&a.codes, k)?;
    let rows = codes.len() / k;
    let n = rows.min(a.count);
    let grid = s.decode_grid(&codes[..n * k], a.cols.min(n), IMAGE_SCALE)?;
    let path = s.output(a.out.as_deref(), "decode.png")?;
    grid.save_png(&path)?;
    let skipped = if n < rows {
        format!(" (the first {n} of {rows}; --count decodes more)")
    } else {
        String::new()
    };
    println!("wrote {}: {n} decoded codes{skipped}", path.display());
    Ok(())
}

/// `ae sample`.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// How many samples.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Scales the prior's standard deviation: below 1 gives cleaner, less varied samples.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The PNG to write [default: <run>/ae/sample.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Decodes codes drawn from N(0, T^2 I), the VAE's prior scaled by the temperature.
pub fn sample(a: &SampleArgs) -> Result<()> {
    if !(1..=10_000).contains(&a.count) {
        bail!("--count {}: give 1 to 10000", a.count);
    }
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        bail!("--temperature {}: give a number >= 0", a.temperature);
    }
    let s = Session::open(&a.run)?;
    s.need_vae("sample", "draws from a VAE's prior")?;
    s.need_images("sample")?;
    let grid = figures::prior_samples(&s, a.count, a.temperature, a.seed)?;
    let path = s.output(a.out.as_deref(), "sample.png")?;
    grid.save_png(&path)?;
    println!(
        "wrote {}: {} samples at temperature {}",
        path.display(),
        a.count,
        a.temperature
    );
    Ok(())
}

/// `ae manifold`.
#[derive(Debug, clap::Args)]
pub struct ManifoldArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Images per side of the grid.
    #[arg(long, default_value_t = 20)]
    pub size: usize,
    /// The grid spans the Gaussian quantiles from P to 1 - P on each axis.
    #[arg(long, default_value_t = 0.05)]
    pub tail: f64,
    /// The PNG to write [default: <run>/ae/manifold.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Decodes a `size x size` grid of latent points `(Phi^-1(u), Phi^-1(v))` with `u, v` evenly
/// spaced in `[tail, 1 - tail]`: equal steps of prior probability, as in the Keras VAE example.
/// `z0` grows to the right, `z1` upwards.
pub fn manifold(a: &ManifoldArgs) -> Result<()> {
    if !(2..=60).contains(&a.size) {
        bail!("--size {}: give 2 to 60", a.size);
    }
    if !(a.tail > 0.0 && a.tail < 0.5) {
        bail!("--tail {}: give a probability between 0 and 0.5", a.tail);
    }
    let s = Session::open(&a.run)?;
    s.need_vae("manifold", "walks a VAE's 2-D latent space")?;
    s.need_images("manifold")?;
    let k = s.cfg.network.code_dim();
    if k != 2 {
        bail!(
            "`ae manifold` needs a 2-D code; {} has {k} numbers (train one with `train vae \
             --latent-dim 2`)",
            s.run.path.display()
        );
    }
    let q: Vec<f32> = (0..a.size)
        .map(|i| {
            let u = a.tail + (1.0 - 2.0 * a.tail) * i as f64 / (a.size - 1) as f64;
            normal_quantile(u) as f32
        })
        .collect();
    let mut z = Vec::with_capacity(a.size * a.size * 2);
    for row in 0..a.size {
        for col in 0..a.size {
            z.extend([q[col], q[a.size - 1 - row]]);
        }
    }
    let grid = s.decode_grid(&z, a.size, SAMPLE_SCALE)?;
    let path = s.output(a.out.as_deref(), "manifold.png")?;
    grid.save_png(&path)?;
    println!(
        "wrote {}: {n} x {n} decodes, z from {:.2} to {:.2} on both axes",
        path.display(),
        q[0],
        q[a.size - 1],
        n = a.size
    );
    Ok(())
}

/// `ae features`.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Draw the first N hidden units.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// The PNG to write [default: <run>/ae/features.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Draws each first-layer unit's input weights `w / |w|`: of all inputs with norm 1, the one
/// that drives the unit hardest (Ng's sparse autoencoder notes). Each tile is scaled by its own
/// largest weight: mid-grey is 0, white positive, black negative. Pixels lit in fewer than 1% of
/// the training images are drawn grey: their weights get (almost) no gradient and keep their
/// random initial values, which would otherwise frame every tile in noise.
pub fn features(a: &FeaturesArgs) -> Result<()> {
    if a.count == 0 {
        bail!("--count 0: nothing to draw");
    }
    let s = Session::open(&a.run)?;
    s.need_images("features")?;
    let first = match s.model.network() {
        Network::Dense(m) => m.encoder().layers().first(),
        Network::Sparse(m) => m.net().encoder().layers().first(),
        Network::Conv(_) | Network::ConvWide(_) | Network::Vae(_) => None,
    };
    let Some(layer) = first else {
        bail!(
            "`ae features` draws the weights of a dense first layer; {} is a {} (convolutional \
             or variational): use a dense-ae, deep-ae, sparse-ae, linear-ae or dense denoising-ae",
            s.run.path.display(),
            s.cfg.model
        );
    };
    let train = s.load(Split::Train, None)?;
    let mut lit = vec![0usize; train.sample_size()];
    let mut pixels = Vec::with_capacity(lit.len());
    for i in 0..train.len() {
        pixels.clear();
        train.push_sample(i, &mut pixels);
        for (l, v) in lit.iter_mut().zip(&pixels) {
            *l += usize::from(*v > 0.0);
        }
    }
    let live: Vec<bool> = lit.iter().map(|&c| c * 100 >= train.len()).collect();
    drop(train);
    let weights = layer.weight.val(); // [inputs, units]
    let [inputs, units] = weights.dims();
    let rows = read_f32(weights.transpose(), "weights")?;
    let n = units.min(a.count);
    let tiles: Vec<Vec<f32>> = rows
        .chunks(inputs)
        .take(n)
        .map(|w| {
            let live_w = w.iter().zip(&live).map(|(v, &l)| if l { *v } else { 0.0 });
            let x: Vec<f32> = live_w.collect();
            let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            let top = x
                .iter()
                .map(|v| (v / norm).abs())
                .fold(0.0, f32::max)
                .max(1e-12);
            x.iter().map(|v| 0.5 + 0.5 * (v / norm) / top).collect()
        })
        .collect();
    let grid = Grid {
        tile: s.tile(),
        cols: (n as f64).sqrt().ceil() as usize,
        tiles,
        scale: SAMPLE_SCALE,
    };
    let path = s.output(a.out.as_deref(), "features.png")?;
    grid.save_png(&path)?;
    println!(
        "wrote {}: the input weights of {n} of the {units} first-layer units",
        path.display()
    );
    Ok(())
}
