//! What a run leaves besides its weights, per model: pictures (reconstructions, denoising,
//! samples) and the figures the lecture notes promise (the linear autoencoder against PCA, the
//! binary codes of the one-hot toy), printed and written to the run folder.

use crate::ae::figures;
use crate::ae::session::Session;
use crate::backend::read_f32;
use crate::config::{DatasetArg, ModelName, RunConfig};
use crate::eval::evaluate;
use crate::input::batch::samples_tensor;
use crate::picture::Grid;
use crate::run_dir::{self, RunDir, write_atomic};
use ae_data::Samples;
use ae_models::Autoencoder;
use ae_models::pca::{Pca, principal_angles};
use anyhow::{Context, Result};
use burn::prelude::*;
use serde::Serialize;

/// Tiles per row in the reconstruction pictures.
const COLS: usize = 10;
/// Decodes in `samples.png`.
const SAMPLES: usize = 100;

/// Writes the run's pictures and prints its model-specific figures, through the same session
/// and figure functions `ae` uses (`samples.png` is `ae sample --count 100 --seed <seed>`).
pub fn after_training(s: &Session, train: &Samples, test: &Samples) -> Result<()> {
    let (cfg, run) = (&s.cfg, &s.run);
    if test.is_images() {
        let first: Vec<usize> = (0..test.len().min(2 * COLS)).collect();
        save(
            run,
            run_dir::RECONSTRUCTIONS,
            figures::reconstructions(s, test, &first, COLS)?,
        )?;
        if let Some(noise) = &cfg.noise {
            save(
                run,
                run_dir::DENOISING,
                figures::denoising(s, test, &first, noise, COLS)?,
            )?;
        }
        if cfg.model == ModelName::Vae {
            save(
                run,
                run_dir::SAMPLES,
                figures::prior_samples(s, SAMPLES, 1.0, cfg.seed)?,
            )?;
        }
    }
    if cfg.model == ModelName::LinearAe {
        compare_with_pca(cfg, &s.model, train, test, run, &s.device)?;
    }
    if cfg.dataset == DatasetArg::Onehot4 {
        report_codes(&s.model, test, run, &s.device)?;
    }
    Ok(())
}

fn save(run: &RunDir, name: &str, picture: Grid) -> Result<()> {
    let path = run.file(name);
    picture
        .save_png(&path)
        .with_context(|| format!("cannot save {}", path.display()))
}

/// The linear autoencoder against PCA with as many components as it has code units.
#[derive(Debug, Clone, Serialize)]
pub struct PcaComparison {
    /// Components (code units).
    pub k: usize,
    /// The model's mean squared error per number on the training set.
    pub train_mse: f64,
    /// PCA's (fitted on the training set) on the training set: the best any rank-k map can do.
    pub train_mse_pca: f64,
    /// The model's on the test set.
    pub test_mse: f64,
    /// PCA's on the test set.
    pub test_mse_pca: f64,
    /// The largest principal angle between the decoder's subspace and PCA's, in degrees.
    pub largest_angle_deg: f64,
}

fn compare_with_pca(
    cfg: &RunConfig,
    model: &Autoencoder,
    train: &Samples,
    test: &Samples,
    run: &RunDir,
    device: &Device,
) -> Result<PcaComparison> {
    let k = cfg.network.code_dim();
    let dim = train.sample_size();
    let train_values = train.to_f32();
    let pca = Pca::fit(&train_values, dim, device)?;
    let train_mse_pca = pca.reconstruction_mse(&train_values, k, device)?;
    drop(train_values);
    let test_mse_pca = pca.reconstruction_mse(&test.to_f32(), k, device)?;
    let c = PcaComparison {
        k,
        train_mse: evaluate(model, train, cfg, device)?,
        train_mse_pca,
        test_mse: evaluate(model, test, cfg, device)?,
        test_mse_pca,
        largest_angle_deg: principal_angles(
            &decoder_directions(model, k, device)?,
            &pca.components(k)?,
            k,
            dim,
        )?
        .first()
        .copied()
        .unwrap_or(0.0),
    };
    println!(
        "linear-ae vs PCA at k = {k}: test MSE {:.5} vs {:.5} ({:.3}x), training MSE {:.5} vs \
         {:.5} ({:.3}x); largest angle between the code subspace and PCA's {:.2} degrees",
        c.test_mse,
        c.test_mse_pca,
        c.test_mse / c.test_mse_pca,
        c.train_mse,
        c.train_mse_pca,
        c.train_mse / c.train_mse_pca,
        c.largest_angle_deg
    );
    let json = serde_json::to_string_pretty(&c)?;
    write_atomic(&run.file(run_dir::PCA), json.as_bytes())?;
    Ok(c)
}

/// The `k` directions the decoder maps code axes to (`decode(e_i) - decode(0)`), as rows: for a
/// linear decoder they span the subspace its outputs lie in (shifted by `decode(0)`).
pub fn decoder_directions(model: &Autoencoder, k: usize, device: &Device) -> Result<Vec<f64>> {
    let eye = Tensor::<2>::eye(k, device);
    let zero = Tensor::<2>::zeros([1, k], device);
    let [c, h, w] = model.image_shape();
    let out = model.decode(eye).reshape([k, c * h * w]);
    let origin = model.decode(zero).reshape([1, c * h * w]);
    let rows = read_f32(out - origin, "the decoder")?;
    Ok(rows.into_iter().map(f64::from).collect())
}

fn bits(values: &[f32]) -> String {
    values
        .iter()
        .map(|&v| if v >= 0.5 { '1' } else { '0' })
        .collect()
}

/// Prints (and writes to `codes.csv`) the code of each test sample rounded to bits, and its
/// reconstruction rounded to bits.
fn report_codes(model: &Autoencoder, test: &Samples, run: &RunDir, device: &Device) -> Result<()> {
    let indices: Vec<usize> = (0..test.len()).collect();
    let x = samples_tensor(test, &indices, device);
    let n = test.len();
    let codes = read_f32(model.encode(x.clone()), "codes")?;
    let outputs = read_f32(model.reconstruct(x.clone()), "reconstructions")?;
    let inputs = read_f32(x, "inputs")?;
    let (k, d) = (codes.len() / n.max(1), inputs.len() / n.max(1));
    let mut csv = String::from("input,code,bits,output\n");
    println!("codes of the {n} inputs (rounded to bits):");
    let mut distinct = std::collections::BTreeSet::new();
    let mut exact = 0;
    for i in 0..n {
        let (inp, code, out) = (
            bits(&inputs[i * d..][..d]),
            &codes[i * k..][..k],
            bits(&outputs[i * d..][..d]),
        );
        let shown: Vec<String> = code.iter().map(|v| format!("{v:.3}")).collect();
        println!(
            "  {inp} -> code ({}) = {} -> {out}{}",
            shown.join(", "),
            bits(code),
            if out == inp { "" } else { "  (wrong)" }
        );
        csv.push_str(&format!("{inp},{},{},{out}\n", shown.join(" "), bits(code)));
        distinct.insert(bits(code));
        exact += usize::from(out == inp);
    }
    println!(
        "{} distinct codes; {exact} of {n} inputs reconstructed exactly",
        distinct.len()
    );
    write_atomic(&run.file(run_dir::CODES), csv.as_bytes())
}
