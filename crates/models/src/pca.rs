//! Principal component analysis in closed form: the yardstick of the linear autoencoder, which
//! with identity activations and MSE must land on PCA's subspace (lecture notes: "it can be
//! shown that it ends up performing PCA").
//!
//! The covariance is one matrix product on the device; its eigen-decomposition is in f64 on
//! the CPU ([`crate::linalg`]).

use crate::linalg::{LinalgError, SymmetricEigen, symmetric_eigen};
use burn::prelude::*;

/// Why PCA could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    /// Fewer than two samples, or a buffer that is not `n * dim` numbers.
    #[error("PCA needs at least 2 samples of {dim} numbers, got {len} numbers")]
    Shape {
        /// Numbers per sample.
        dim: usize,
        /// Numbers given.
        len: usize,
    },
    /// More components asked for than there are dimensions.
    #[error("{k} components asked for, but the data has {dim} dimensions")]
    TooMany {
        /// Components asked for.
        k: usize,
        /// Dimensions.
        dim: usize,
    },
    /// The device could not hand the numbers back.
    #[error("cannot read the covariance back from the device: {0}")]
    Read(String),
    /// The decomposition failed.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

/// A fitted PCA: the mean and the eigenvectors of the covariance, largest variance first.
#[derive(Debug, Clone)]
pub struct Pca {
    /// Numbers per sample.
    pub dim: usize,
    /// The mean sample.
    pub mean: Vec<f32>,
    /// Eigenvalues (variances along the components) and eigenvectors of the covariance.
    pub eigen: SymmetricEigen,
}

fn read(t: Tensor<2>) -> Result<Vec<f32>, PcaError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| PcaError::Read(format!("{e:?}")))
}

fn samples(data: &[f32], dim: usize, device: &Device) -> Result<Tensor<2>, PcaError> {
    if dim == 0 || !data.len().is_multiple_of(dim) || data.len() / dim < 2 {
        return Err(PcaError::Shape {
            dim,
            len: data.len(),
        });
    }
    let n = data.len() / dim;
    Ok(Tensor::from_data(
        TensorData::new(data.to_vec(), [n, dim]),
        device,
    ))
}

impl Pca {
    /// Fits PCA to `data`, samples of `dim` numbers one after the other.
    pub fn fit(data: &[f32], dim: usize, device: &Device) -> Result<Pca, PcaError> {
        let x = samples(data, dim, device)?;
        let n = x.dims()[0];
        let mean = x.clone().mean_dim(0); // [1, dim]
        let centred = x - mean.clone();
        let cov = centred
            .clone()
            .transpose()
            .matmul(centred)
            .div_scalar(n as f32); // [dim, dim]
        let cov: Vec<f64> = read(cov)?.into_iter().map(f64::from).collect();
        Ok(Pca {
            dim,
            mean: read(mean)?,
            eigen: symmetric_eigen(&cov, dim)?,
        })
    }

    /// The first `k` components as rows, `[k, dim]`.
    pub fn components(&self, k: usize) -> Result<Vec<f64>, PcaError> {
        if k > self.dim {
            return Err(PcaError::TooMany { k, dim: self.dim });
        }
        Ok(self.eigen.vectors[..k * self.dim].to_vec())
    }

    /// Mean squared error per number of reconstructing `data` from its projection onto the
    /// first `k` components (plus the mean): the best any rank-`k` linear autoencoder can do
    /// on the data PCA was fitted to.
    pub fn reconstruction_mse(
        &self,
        data: &[f32],
        k: usize,
        device: &Device,
    ) -> Result<f64, PcaError> {
        let comps: Vec<f32> = self.components(k)?.into_iter().map(|v| v as f32).collect();
        let x = samples(data, self.dim, device)?;
        let mean = Tensor::<1>::from_data(TensorData::new(self.mean.clone(), [self.dim]), device)
            .reshape([1, self.dim]);
        let centred = x - mean;
        let v = Tensor::<2>::from_data(TensorData::new(comps, [k, self.dim]), device); // [k, dim]
        let projected = centred.clone().matmul(v.clone().transpose()).matmul(v);
        let mse: f32 = (centred - projected).square().mean().into_scalar();
        Ok(f64::from(mse))
    }
}

/// The principal angles, in degrees, between the spans of the rows of `a` and of `b` (each
/// `[k, dim]`, rows linearly independent), largest first: all 0 when the spans are the same.
pub fn principal_angles(a: &[f64], b: &[f64], k: usize, dim: usize) -> Result<Vec<f64>, PcaError> {
    if k == 0 || a.len() != k * dim || b.len() != k * dim {
        return Err(PcaError::Shape {
            dim,
            len: a.len().min(b.len()),
        });
    }
    let (qa, qb) = (orthonormal_rows(a, k, dim), orthonormal_rows(b, k, dim));
    // M = Qa Qb^T; its singular values are the cosines of the angles. M M^T is symmetric.
    let m: Vec<f64> = (0..k * k)
        .map(|ij| dot(&qa[(ij / k) * dim..][..dim], &qb[(ij % k) * dim..][..dim]))
        .collect();
    let mmt: Vec<f64> = (0..k * k)
        .map(|ij| dot(&m[(ij / k) * k..][..k], &m[(ij % k) * k..][..k]))
        .collect();
    let eig = symmetric_eigen(&mmt, k)?;
    let mut angles: Vec<f64> = eig
        .values
        .iter()
        .map(|&s2| s2.clamp(0.0, 1.0).sqrt().acos().to_degrees())
        .collect();
    angles.sort_by(|x, y| y.total_cmp(x));
    Ok(angles)
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Gram-Schmidt (twice, for stability) on the rows of a `[k, dim]` matrix.
fn orthonormal_rows(a: &[f64], k: usize, dim: usize) -> Vec<f64> {
    let mut q = a.to_vec();
    for i in 0..k {
        for _pass in 0..2 {
            for j in 0..i {
                let (done, rest) = q.split_at_mut(i * dim);
                let qj = &done[j * dim..(j + 1) * dim];
                let qi = &mut rest[..dim];
                let c = dot(qi, qj);
                qi.iter_mut().zip(qj).for_each(|(x, y)| *x -= c * y);
            }
        }
        let row = &mut q[i * dim..(i + 1) * dim];
        let norm = dot(row, row).sqrt().max(f64::MIN_POSITIVE);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_plane_of_planar_data_and_its_error() {
        let dev = Device::flex();
        // A grid in the plane spanned by (1, 0, 0) and (0, 1, 1)/sqrt 2, each point twice, moved
        // by +0.1 and by -0.1 along the normal (0, 1, -1)/sqrt 2: variance 0.01 off the plane.
        let mut data = Vec::new();
        for i in 0..200 {
            let (s, t) = ((i % 20) as f32 - 9.5, (i / 20) as f32 - 4.5);
            for off in [0.1 / 2f32.sqrt(), -0.1 / 2f32.sqrt()] {
                data.extend([s + 3.0, t / 2f32.sqrt() + off, t / 2f32.sqrt() - off]);
            }
        }
        let pca = Pca::fit(&data, 3, &dev).unwrap();
        // The residual of a rank-2 fit is the off-plane variance, spread over 3 numbers.
        let mse = pca.reconstruction_mse(&data, 2, &dev).unwrap();
        assert!((mse - 0.01 / 3.0).abs() < 1e-5, "{mse}");
        assert!(pca.reconstruction_mse(&data, 3, &dev).unwrap() < 1e-9);
        let plane = [1.0, 0.0, 0.0, 0.0, 0.5f64.sqrt(), 0.5f64.sqrt()];
        let angles = principal_angles(&pca.components(2).unwrap(), &plane, 2, 3).unwrap();
        assert!(angles[0] < 0.01, "{angles:?}");
        assert!((pca.mean[0] - 3.0).abs() < 1e-5);
    }

    #[test]
    fn principal_angles_measure_known_rotations() {
        // The x axis against a line 30 degrees off it in the xy plane.
        let a = [1.0, 0.0, 0.0];
        let b = [30f64.to_radians().cos(), 30f64.to_radians().sin(), 0.0];
        let angles = principal_angles(&a, &b, 1, 3).unwrap();
        assert!((angles[0] - 30.0).abs() < 1e-6, "{angles:?}");
        // The same plane with another, non-orthogonal basis: angles 0.
        let p = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let q = [2.0, 1.0, 0.0, 1.0, -3.0, 0.0];
        let angles = principal_angles(&p, &q, 2, 3).unwrap();
        assert!(angles.iter().all(|a| *a < 1e-5), "{angles:?}");
        assert!(principal_angles(&p, &q[..3], 2, 3).is_err());
    }

    #[test]
    fn too_little_data_is_an_error() {
        let dev = Device::flex();
        assert!(matches!(
            Pca::fit(&[1.0, 2.0], 2, &dev),
            Err(PcaError::Shape { .. })
        ));
        let pca = Pca::fit(&[0.0, 1.0, 1.0, 0.0], 2, &dev).unwrap();
        assert!(matches!(pca.components(3), Err(PcaError::TooMany { .. })));
    }
}
