//! From an `ImageSet` in memory to tensor batches on the device.

use ae_data::ImageSet;
use ae_models::AeBatch;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use std::sync::Arc;

/// An image set as a Burn dataset whose items are image indices (no pixel copies per item).
#[derive(Debug, Clone)]
pub struct ImageIndices {
    len: usize,
}

impl ImageIndices {
    /// All the images of `set`.
    pub fn of(set: &ImageSet) -> Self {
        ImageIndices { len: set.len() }
    }
}

impl Dataset<usize> for ImageIndices {
    fn get(&self, index: usize) -> Result<usize, DatasetError> {
        // Burn's convention: an index past the end is a caller bug, like slice indexing.
        assert!(index < self.len, "image {index} of {}", self.len);
        Ok(index)
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Turns image indices into an [`AeBatch`]: pixels scaled to [0, 1], the image as its own target.
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    set: Arc<ImageSet>,
}

impl ImageBatcher {
    /// A batcher over `set`.
    pub fn new(set: Arc<ImageSet>) -> Self {
        ImageBatcher { set }
    }
}

/// `[n, 1, rows, cols]` images in [0, 1] from the given indices of `set`.
pub fn images_tensor(set: &ImageSet, indices: &[usize], device: &Device) -> Tensor<4> {
    let mut pixels = Vec::with_capacity(indices.len() * set.image_size());
    for &i in indices {
        pixels.extend(set.image(i).iter().map(|&p| f32::from(p) / 255.0));
    }
    let data = TensorData::new(pixels, [indices.len(), 1, set.rows, set.cols]);
    Tensor::from_data(data, device)
}

impl Batcher<usize, AeBatch> for ImageBatcher {
    fn batch(&self, indices: Vec<usize>, device: &Device) -> AeBatch {
        let images = images_tensor(&self.set, &indices, device);
        let labels: Vec<i64> = indices
            .iter()
            .map(|&i| i64::from(self.set.labels[i]))
            .collect();
        AeBatch {
            input: images.clone(),
            target: images,
            labels: Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
        }
    }
}
