//! Generated data sets from the lecture notes: points near a plane in 3-D (the linear
//! autoencoder that finds PCA's plane) and the four one-hot 4-bit vectors (the binary-code toy).

use crate::rng::Rng;

/// Vectors of real numbers with a class label each, kept as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSet {
    /// Numbers per vector.
    pub dim: usize,
    /// `len() * dim` numbers, vector after vector.
    pub values: Vec<f32>,
    /// One label per vector (a colour for pictures; not used by the losses).
    pub labels: Vec<u8>,
}

impl VectorSet {
    /// The number of vectors.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Vector `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Keeps only the first `n` vectors (all of them if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.labels.truncate(n);
            self.values.truncate(n * self.dim);
        }
    }
}

/// Angles of the plane data are bucketed into this many classes, for colouring.
pub const PLANE3D_CLASSES: u8 = 10;

/// `n` points of a curved band lying near the plane `z = 0.1 x + 0.3 y` in 3-D, with a little
/// noise off it (the generator of Géron's *Hands-On Machine Learning*, chapter on PCA). The label
/// is the position along the band, in ten buckets.
pub fn plane3d(n: usize, seed: u64) -> VectorSet {
    let (w1, w2, noise) = (0.1f32, 0.3f32, 0.1f32);
    let span = 3.0 * std::f32::consts::PI / 2.0;
    let mut rng = Rng::new(seed);
    let mut values = Vec::with_capacity(n * 3);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let u = rng.uniform();
        let angle = u * span - 0.5;
        let x = angle.cos() + angle.sin() / 2.0 + noise * rng.normal() / 2.0;
        let y = angle.sin() * 0.7 + noise * rng.normal() / 2.0;
        let z = x * w1 + y * w2 + noise * rng.normal();
        values.extend([x, y, z]);
        labels.push(((u * f32::from(PLANE3D_CLASSES)) as u8).min(PLANE3D_CLASSES - 1));
    }
    VectorSet {
        dim: 3,
        values,
        labels,
    }
}

/// The four one-hot vectors of 4 bits, each `repeats` times, in order (label = the hot bit).
pub fn onehot4(repeats: usize) -> VectorSet {
    let mut values = Vec::with_capacity(16 * repeats);
    let mut labels = Vec::with_capacity(4 * repeats);
    for _ in 0..repeats {
        for hot in 0..4u8 {
            values.extend((0..4u8).map(|b| if b == hot { 1.0 } else { 0.0 }));
            labels.push(hot);
        }
    }
    VectorSet {
        dim: 4,
        values,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane3d_lies_near_its_plane_and_is_reproducible() {
        let a = plane3d(2000, 1);
        assert_eq!((a.len(), a.values.len()), (2000, 6000));
        assert_eq!(a, plane3d(2000, 1));
        assert_ne!(a, plane3d(2000, 2));
        // Distance to the plane is the z noise alone (std 0.1); the band itself spans ~2 units.
        let off: f32 = (0..a.len())
            .map(|i| {
                let v = a.vector(i);
                (v[2] - 0.1 * v[0] - 0.3 * v[1]).powi(2)
            })
            .sum::<f32>()
            / a.len() as f32;
        assert!(
            (off.sqrt() - 0.1).abs() < 0.01,
            "rms off-plane {}",
            off.sqrt()
        );
        let xs: Vec<f32> = (0..a.len()).map(|i| a.vector(i)[0]).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        assert!(hi - lo > 1.5, "the band spans {lo}..{hi}");
        assert!(a.labels.iter().all(|&l| l < PLANE3D_CLASSES));
    }

    #[test]
    fn onehot4_holds_each_vector_repeats_times() {
        let s = onehot4(3);
        assert_eq!(s.len(), 12);
        assert_eq!(s.vector(0), &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(s.vector(6), &[0.0, 0.0, 1.0, 0.0]);
        assert_eq!(s.labels[..4], [0, 1, 2, 3]);
    }
}
