//! Pictures of real images through the model: reconstructions, interpolations between two
//! images, and the decoded average code of a label.

use super::figures::{self, IMAGE_SCALE};
use super::session::{Session, check_indices, random_indices};
use super::{RunArgs, SplitArg};
use crate::backend::read_f32;
use crate::eval::evaluate;
use crate::input::batch::samples_tensor;
use crate::picture::Grid;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Tiles per row unless a command says otherwise.
const COLS: usize = 10;

/// `ae reconstruct`.
#[derive(Debug, clap::Args)]
pub struct ReconstructArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Which images, by index (e.g. --indices 0,7,42) [default: --count random ones].
    #[arg(long, value_delimiter = ',')]
    pub indices: Vec<usize>,
    /// How many random images when --indices is not given.
    #[arg(long, default_value_t = 20)]
    pub count: usize,
    /// Seed of the random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The split the images come from (and the loss is measured on).
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// The PNG to write [default: <run>/ae/reconstruct.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Writes originals above reconstructions (for a denoising model: corrupted, reconstructed,
/// clean), and prints the model's loss on the whole split.
pub fn reconstruct(a: &ReconstructArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    s.need_images("reconstruct")?;
    let set = s.load(a.split.into(), None)?;
    let picked = if a.indices.is_empty() {
        if a.count == 0 {
            bail!("--count 0: nothing to draw");
        }
        random_indices(set.len(), a.count, a.seed)
    } else {
        check_indices(&a.indices, set.len(), "--indices")?;
        a.indices.clone()
    };
    let cols = picked.len().min(COLS);
    let rows_of = if s.cfg.noise.is_some() { 3 } else { 2 };
    crate::picture::check_size(rows_of * picked.len(), s.tile(), cols, IMAGE_SCALE)?;
    let picture = match &s.cfg.noise {
        Some(noise) => figures::denoising(&s, &set, &picked, noise, cols)?,
        None => figures::reconstructions(&s, &set, &picked, cols)?,
    };
    let path = s.output(a.out.as_deref(), "reconstruct.png")?;
    picture.save_png(&path)?;
    println!("wrote {}", path.display());
    let loss = evaluate(&s.model, &set, &s.cfg, &s.device)?;
    println!(
        "{} loss {loss:.5} ({}) over all {} {} samples",
        a.split.as_str(),
        s.cfg.loss_unit(),
        set.len(),
        a.split.as_str()
    );
    Ok(())
}

/// `ae interpolate`.
#[derive(Debug, clap::Args)]
pub struct InterpolateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The first image (index in the split).
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// The last image.
    #[arg(long, default_value_t = 1)]
    pub to: usize,
    /// Decodes between and including the two ends.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// The split the images come from.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// The PNG to write [default: <run>/ae/interpolate.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Writes the decodes of `(1 - t) z_from + t z_to` for `steps` values of `t` from 0 to 1,
/// between the two originals; below, the same blend of the pixels.
pub fn interpolate(a: &InterpolateArgs) -> Result<()> {
    if !(2..=100).contains(&a.steps) {
        bail!("--steps {}: give 2 to 100", a.steps);
    }
    let s = Session::open(&a.run)?;
    s.need_images("interpolate")?;
    let set = s.load(a.split.into(), None)?;
    check_indices(&[a.from, a.to], set.len(), "image")?;
    let ends = samples_tensor(&set, &[a.from, a.to], &s.device);
    let codes = s.codes(&set, &[a.from, a.to])?;
    let k = codes.len() / 2;
    let ts: Vec<f32> = (0..a.steps)
        .map(|i| i as f32 / (a.steps - 1) as f32)
        .collect();
    let mut path_codes = Vec::with_capacity(a.steps * k);
    for &t in &ts {
        path_codes.extend((0..k).map(|j| (1.0 - t) * codes[j] + t * codes[k + j]));
    }
    let decoded = s.decode_grid(&path_codes, a.steps, IMAGE_SCALE)?;
    let pixels = read_f32(ends, "images")?;
    let d = pixels.len() / 2;
    let blends: Vec<Vec<f32>> = ts
        .iter()
        .map(|&t| {
            (0..d)
                .map(|j| (1.0 - t) * pixels[j] + t * pixels[d + j])
                .collect()
        })
        .collect();
    let (first, last) = (pixels[..d].to_vec(), pixels[d..].to_vec());
    let row = |middle: Vec<Vec<f32>>| {
        let mut tiles = vec![first.clone()];
        tiles.extend(middle);
        tiles.push(last.clone());
        tiles
    };
    let mut tiles = row(decoded.tiles);
    tiles.extend(row(blends));
    let grid = Grid {
        tile: s.tile(),
        cols: a.steps + 2,
        tiles,
        scale: IMAGE_SCALE,
    };
    let path = s.output(a.out.as_deref(), "interpolate.png")?;
    grid.save_png(&path)?;
    println!(
        "wrote {}: image {} to image {} in {} steps, through code space (top) and pixel space \
         (bottom)",
        path.display(),
        a.from,
        a.to,
        a.steps
    );
    Ok(())
}

/// `ae average`.
#[derive(Debug, clap::Args)]
pub struct AverageArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Average these images (by index) instead of each label's.
    #[arg(long, value_delimiter = ',')]
    pub indices: Vec<usize>,
    /// The split the images come from.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// The PNG to write [default: <run>/ae/average.png].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Sums of codes and of pixels per group, streamed over the split.
struct Sums {
    codes: Vec<Vec<f64>>,
    pixels: Vec<Vec<f64>>,
    counts: Vec<usize>,
}

/// Writes the decoded mean code of each label (top row) above each label's mean image (bottom
/// row); with --indices, of those images only.
pub fn average(a: &AverageArgs) -> Result<()> {
    let s = Session::open(&a.run)?;
    s.need_images("average")?;
    let set = s.load(a.split.into(), None)?;
    let names = s.cfg.class_names();
    let (indices, groups): (Vec<usize>, usize) = if a.indices.is_empty() {
        // One group per class; all images in one when there are no labels.
        let groups = names.as_ref().map_or(1, Vec::len).max(1);
        ((0..set.len()).collect(), groups)
    } else {
        check_indices(&a.indices, set.len(), "--indices")?;
        (a.indices.clone(), 1)
    };
    let (k, d) = (s.cfg.network.code_dim(), set.sample_size());
    let mut sums = Sums {
        codes: vec![vec![0.0; k]; groups],
        pixels: vec![vec![0.0; d]; groups],
        counts: vec![0; groups],
    };
    let group = |i: usize| {
        if groups == 1 {
            0
        } else {
            usize::from(set.label(i)).min(groups - 1)
        }
    };
    let mut pixels = Vec::with_capacity(d);
    s.encode_batches(&set, &indices, |chunk, codes| {
        for (row, &i) in chunk.iter().enumerate() {
            let g = group(i);
            sums.counts[g] += 1;
            for (acc, v) in sums.codes[g].iter_mut().zip(&codes[row * k..][..k]) {
                *acc += f64::from(*v);
            }
            pixels.clear();
            set.push_sample(i, &mut pixels);
            for (acc, v) in sums.pixels[g].iter_mut().zip(&pixels) {
                *acc += f64::from(*v);
            }
        }
        Ok(())
    })?;
    let present: Vec<usize> = (0..groups).filter(|&g| sums.counts[g] > 0).collect();
    let mean = |v: &[f64], n: usize| v.iter().map(|x| (x / n as f64) as f32).collect::<Vec<_>>();
    let mean_codes: Vec<f32> = present
        .iter()
        .flat_map(|&g| mean(&sums.codes[g], sums.counts[g]))
        .collect();
    let decoded = s.decode_grid(&mean_codes, present.len(), IMAGE_SCALE)?;
    let mean_images: Vec<Vec<f32>> = present
        .iter()
        .map(|&g| mean(&sums.pixels[g], sums.counts[g]))
        .collect();
    let mut tiles = decoded.tiles;
    tiles.extend(mean_images);
    let grid = Grid { tiles, ..decoded };
    let path = s.output(a.out.as_deref(), "average.png")?;
    grid.save_png(&path)?;
    let what = if !a.indices.is_empty() {
        format!("{} chosen images", indices.len())
    } else if groups == 1 {
        format!("all {} images (they have no labels)", indices.len())
    } else {
        let shown: Vec<String> = present
            .iter()
            .map(|&g| {
                let name = names
                    .as_ref()
                    .and_then(|n| n.get(g).cloned())
                    .unwrap_or_else(|| g.to_string());
                format!("{name} ({})", sums.counts[g])
            })
            .collect();
        format!("each label: {}", shown.join(", "))
    };
    println!(
        "wrote {}: decoded mean code (top) and mean image (bottom) of {what}",
        path.display()
    );
    Ok(())
}
