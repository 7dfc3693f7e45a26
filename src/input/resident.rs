//! A set of images kept on the device, so that a training step uploads only the indices of
//! its batch rather than the batch itself.
//!
//! Pixels travel as bytes, four to a 32-bit word (a `[n, words]` int tensor: 47 MB for MNIST's
//! 60 000 images, where `f32` pixels would be 188 MB, more than wgpu lets one buffer be by
//! default). A batch is gathered by index on the device and unpacked there to `p / 255`, in
//! one kernel of ae-kernels on wgpu (`unpack_bytes`). Labels stay on the host.

use ae_data::Samples;
use anyhow::{Result, bail};
use burn::prelude::*;
use std::sync::Mutex;

/// The most packed bytes kept on a device when its own limit is not known (CUDA): larger
/// sets stay in host memory.
pub const DEFAULT_MAX_BYTES: usize = 1 << 30;

/// The most packed bytes kept on a wgpu device: three quarters of what its adapter lets one
/// storage buffer be (CubeCL asks wgpu for the adapter's own limits; lavapipe's is 128 MiB, a
/// GPU's is usually several GiB), or [`DEFAULT_MAX_BYTES`] when wgpu reports no adapter.
pub fn wgpu_max_bytes() -> usize {
    crate::backend::wgpu_adapters()
        .first()
        .map_or(DEFAULT_MAX_BYTES, |a| {
            usize::try_from(a.max_buffer_bytes / 4 * 3).unwrap_or(usize::MAX)
        })
}

/// Where a batcher keeps the clean samples it makes batches of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In host memory: each batch is gathered there and uploaded (no copy of the set on the
    /// device; what CPU backends want, where the device is the host anyway).
    Host,
    /// Uploaded once to the device, batches gathered there by index: a step uploads only
    /// its indices (what a GPU wants), when the packed set takes at most `max_bytes`.
    Device {
        /// The largest packed set kept on the device, in bytes.
        max_bytes: usize,
    },
}

impl Placement {
    /// `Device` for GPU backends (up to the device's limit), `Host` for CPU ones.
    pub fn for_backend(backend: crate::backend::BackendChoice) -> Self {
        use crate::backend::BackendChoice as B;
        match backend {
            B::Wgpu => Placement::Device {
                max_bytes: wgpu_max_bytes(),
            },
            B::Cuda => Placement::Device {
                max_bytes: DEFAULT_MAX_BYTES,
            },
            B::Flex | B::Ndarray | B::Auto => Placement::Host,
        }
    }
}

/// A batcher's copy of its set on the device, shared by its clones (the data loader's), and
/// the largest packed set it keeps there, in bytes.
#[derive(Debug)]
pub struct Residency(Mutex<State>, usize);

#[derive(Debug, Default)]
enum State {
    /// Not uploaded yet (it is, on the first batch or by [`Residency::keep_on`]).
    #[default]
    NotYet,
    /// On a device.
    On(Box<ResidentSet>),
    /// The upload failed or does not apply: batches are made on the host.
    Host,
}

impl Residency {
    /// Nothing uploaded yet; sets of up to `max_bytes` packed bytes will be.
    pub fn new(max_bytes: usize) -> Self {
        Residency(Mutex::new(State::NotYet), max_bytes)
    }

    /// Uploads `set` to `device`; on failure, batches are made on the host from then on.
    pub fn keep_on(&self, set: &Samples, device: &Device) -> Result<()> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let uploaded = ResidentSet::upload(set, device, self.1);
        *state = match &uploaded {
            Ok(r) => State::On(Box::new(r.clone())),
            Err(_) => State::Host,
        };
        uploaded.map(|_| ())
    }

    /// The clean samples of `indices` from the copy on `device` (uploading it on first use),
    /// or `None` when they are to be made on the host.
    pub fn gather(&self, set: &Samples, indices: &[usize], device: &Device) -> Option<Tensor<4>> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = match &*state {
            State::On(r) if r.is_on(device) => return Some(r.gather(indices)),
            State::Host => return None,
            State::NotYet | State::On(_) => ResidentSet::upload(set, device, self.1).ok(),
        };
        let out = fresh.as_ref().map(|r| r.gather(indices));
        *state = fresh.map_or(State::Host, |r| State::On(Box::new(r)));
        out
    }

    /// Whether the set is on a device now.
    pub fn is_resident(&self) -> bool {
        let state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        matches!(*state, State::On(_))
    }
}

/// The images of a set, on one device (the labels stay on the host: a batch's go up with its
/// indices).
#[derive(Debug, Clone)]
pub struct ResidentSet {
    device: Device,
    /// `[n, words]` pixels, byte `k` of word `j` being pixel `4 j + k`.
    words: Tensor<2, Int>,
    /// `[1, 1, 4]`: 0, 8, 16, 24, the shift of each byte of a word (uploaded once).
    shifts: Tensor<3, Int>,
    /// `[c, h, w]` of one sample.
    shape: [usize; 3],
}

impl ResidentSet {
    /// Uploads `set` to `device` if it takes at most `max_bytes` packed, and reads a word back
    /// to make sure it arrived (a device that cannot hold it says so here, as an error, not in
    /// the middle of training).
    pub fn upload(set: &Samples, device: &Device, max_bytes: usize) -> Result<Self> {
        let Samples::Images(images) = set else {
            bail!("only image sets are kept on the device");
        };
        let size = images.image_size();
        let words_per = size.div_ceil(4);
        let bytes = images.len() * words_per * 4;
        if bytes > max_bytes {
            bail!(
                "{} images take {} MB packed, over the {} MB kept on this device (3/4 of its \
                 largest buffer)",
                images.len(),
                bytes >> 20,
                max_bytes >> 20
            );
        }
        let mut packed = Vec::with_capacity(images.len() * words_per);
        for i in 0..images.len() {
            for chunk in images.image(i).chunks(4) {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                packed.push(i32::from_le_bytes(word));
            }
        }
        let words =
            Tensor::<2, Int>::from_data(TensorData::new(packed, [images.len(), words_per]), device);
        if !images.is_empty() {
            words
                .clone()
                .slice([0..1, 0..1])
                .try_into_data()
                .map_err(|e| anyhow::anyhow!("cannot keep the data set on the device: {e}"))?;
        }
        let shifts = ae_kernels::byte_shifts(device);
        Ok(ResidentSet {
            device: device.clone(),
            words,
            shifts,
            shape: set.shape(),
        })
    }

    /// Whether this copy lives on `device`.
    pub fn is_on(&self, device: &Device) -> bool {
        &self.device == device
    }

    /// The `[b, c, h, w]` images (as `p / 255`) of `indices`.
    pub fn gather(&self, indices: &[usize]) -> Tensor<4> {
        let b = indices.len();
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &self.device);
        // One kernel of ae-kernels' where it runs (wgpu), in the images' shape, else Burn's
        // gather, shift, mask and division (all four bytes of every word in one shift and one
        // mask).
        ae_kernels::unpack_bytes(self.words.clone(), idx, self.shape, self.shifts.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_data::ImageSet;

    fn images(n: usize, rows: usize, cols: usize) -> Samples {
        // Every byte value, the high ones (negative as i32) included.
        let pixels = (0..n * rows * cols).map(|i| (i * 37 % 256) as u8).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Samples::Images(ImageSet {
            channels: 1,
            rows,
            cols,
            pixels,
            labels,
        })
    }

    #[test]
    fn gathered_images_equal_the_ones_made_on_the_host() {
        let dev = Device::flex();
        // 5 x 3 = 15 pixels: the last word of each image is partly padding.
        for set in [images(9, 5, 3), images(7, 28, 28)] {
            let resident = ResidentSet::upload(&set, &dev, DEFAULT_MAX_BYTES).unwrap();
            assert!(resident.is_on(&dev));
            let indices = [3, 0, 6, 6, 1];
            let x = resident.gather(&indices);
            let mut values = Vec::new();
            for &i in &indices {
                set.push_sample(i, &mut values);
            }
            let [c, h, w] = set.shape();
            let host =
                Tensor::<4>::from_data(TensorData::new(values, [indices.len(), c, h, w]), &dev);
            assert_eq!(x.dims(), host.dims());
            let read = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(read(x), read(host));
        }
    }

    #[test]
    fn sets_that_are_not_images_or_too_large_stay_on_the_host() {
        let dev = Device::flex();
        let vectors = Samples::Vectors(ae_data::synthetic::plane3d(10, 1));
        assert!(ResidentSet::upload(&vectors, &dev, DEFAULT_MAX_BYTES).is_err());
        let limit = 100 * 784;
        assert!(ResidentSet::upload(&images(100, 28, 28), &dev, limit).is_ok());
        let big = images(101, 28, 28);
        let err = ResidentSet::upload(&big, &dev, limit).unwrap_err();
        assert!(format!("{err}").contains("MB packed"), "{err}");
    }
}
