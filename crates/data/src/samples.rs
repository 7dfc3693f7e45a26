//! One type for every data set a model can train on: images (MNIST-like) or plain vectors
//! (the generated toy sets), each sample read out as `f32` in the model's input units.

use crate::dataset::ImageSet;
use crate::synthetic::VectorSet;

/// A split of a data set, in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Images (grey or colour), pixels scaled to [0, 1] when read out.
    Images(ImageSet),
    /// Vectors, read out as they are.
    Vectors(VectorSet),
}

impl Samples {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::Images(s) => s.len(),
            Samples::Vectors(s) => s.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]` of one sample; a vector of `d` numbers is `[1, 1, d]`.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            Samples::Images(s) => [s.channels, s.rows, s.cols],
            Samples::Vectors(s) => [1, 1, s.dim],
        }
    }

    /// Numbers per sample.
    pub fn sample_size(&self) -> usize {
        self.shape().iter().product()
    }

    /// Whether the samples are images (pictures of them make sense).
    pub fn is_images(&self) -> bool {
        matches!(self, Samples::Images(_))
    }

    /// The label of sample `i`.
    pub fn label(&self, i: usize) -> u8 {
        match self {
            Samples::Images(s) => s.labels[i],
            Samples::Vectors(s) => s.labels[i],
        }
    }

    /// Appends sample `i` to `out`: pixels as `p / 255`, vectors unchanged.
    pub fn push_sample(&self, i: usize, out: &mut Vec<f32>) {
        match self {
            Samples::Images(s) => out.extend(s.image(i).iter().map(|&p| f32::from(p) / 255.0)),
            Samples::Vectors(s) => out.extend_from_slice(s.vector(i)),
        }
    }

    /// Every sample, one after the other (`len() * sample_size()` numbers).
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len() * self.sample_size());
        for i in 0..self.len() {
            self.push_sample(i, &mut out);
        }
        out
    }

    /// Keeps only the first `n` samples.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Samples::Images(s) => s.truncate(n),
            Samples::Vectors(s) => s.truncate(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::onehot4;

    #[test]
    fn images_are_scaled_and_vectors_kept() {
        let img = Samples::Images(ImageSet {
            channels: 1,
            rows: 1,
            cols: 2,
            pixels: vec![0, 255, 51, 102],
            labels: vec![3, 4],
        });
        assert_eq!((img.shape(), img.len(), img.label(1)), ([1, 1, 2], 2, 4));
        let mut out = Vec::new();
        img.push_sample(1, &mut out);
        assert_eq!(out, vec![0.2, 0.4]);
        let v = Samples::Vectors(onehot4(1));
        assert_eq!((v.shape(), v.sample_size()), ([1, 1, 4], 4));
        assert_eq!(v.to_f32()[4..8], [0.0, 1.0, 0.0, 0.0]);
        let mut t = v.clone();
        t.truncate(2);
        assert_eq!(t.len(), 2);
    }
}
