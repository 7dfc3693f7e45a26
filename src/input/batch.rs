//! From [`Samples`] in memory to tensor batches on the device: the order of each training epoch,
//! corrupted inputs for denoising, and the KL warm-up factor of each training batch.
//!
//! Everything random in training is a function of the seed and the batch's place in the run
//! (epoch and step), not of what ran before, so a run resumed at epoch `k` sees exactly the
//! batches, noise and random draws the uninterrupted run saw.

use crate::input::resident::{Placement, Residency};
use ae_data::{Noise, Rng, Samples};
use ae_models::AeBatch;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A data set as a Burn dataset whose items are sample indices (no copies per item).
#[derive(Debug, Clone)]
pub struct SampleIndices {
    len: usize,
}

impl SampleIndices {
    /// All the samples of `set`.
    pub fn of(set: &Samples) -> Self {
        SampleIndices { len: set.len() }
    }
}

impl Dataset<usize> for SampleIndices {
    fn get(&self, index: usize) -> Result<usize, DatasetError> {
        if index < self.len {
            Ok(index)
        } else {
            Err(DatasetError::new(std::io::Error::other(format!(
                "sample {index} of {}",
                self.len
            ))))
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// `[n, c, h, w]` samples from the given indices of `set`.
pub fn samples_tensor(set: &Samples, indices: &[usize], device: &Device) -> Tensor<4> {
    gather(set, indices, None, device)
}

/// The samples of `indices` corrupted by `noise`: sample `i` always gets the noise of stream
/// `(seed, i)`, so a test set is corrupted the same way every epoch and on every backend.
pub fn corrupted_tensor(
    set: &Samples,
    indices: &[usize],
    noise: &Noise,
    seed: u64,
    device: &Device,
) -> Tensor<4> {
    gather(set, indices, Some((noise, seed)), device)
}

/// The values of the samples `indices` of `set`, one after another, corrupted as
/// [`corrupted_tensor`] corrupts them when `noise` (and its seed) is given: what the tensors
/// of this module hold, on the host.
pub fn samples_host(set: &Samples, indices: &[usize], noise: Option<(&Noise, u64)>) -> Vec<f32> {
    let mut values = Vec::with_capacity(indices.len() * set.sample_size());
    for &i in indices {
        let start = values.len();
        set.push_sample(i, &mut values);
        if let Some((noise, seed)) = noise {
            noise.apply(&mut values[start..], &mut Rng::stream(seed, i as u64));
        }
    }
    values
}

fn gather(
    set: &Samples,
    indices: &[usize],
    noise: Option<(&Noise, u64)>,
    device: &Device,
) -> Tensor<4> {
    let [c, h, w] = set.shape();
    let values = samples_host(set, indices, noise);
    Tensor::from_data(TensorData::new(values, [indices.len(), c, h, w]), device)
}

/// How a batcher corrupts its inputs.
#[derive(Debug, Clone, Copy)]
pub enum Corruption {
    /// Inputs are the clean samples.
    None,
    /// New noise for every batch (training).
    Fresh(Noise),
    /// The same noise for a sample every time (testing).
    Fixed(Noise),
}

/// Turns sample indices into an [`AeBatch`]: the (possibly corrupted) input, the clean target,
/// the samples' indices, and the regulariser's warm-up factor.
#[derive(Debug, Clone)]
pub struct SampleBatcher {
    set: Arc<Samples>,
    corruption: Corruption,
    seed: u64,
    /// Batches per epoch, and epochs of warm-up (0: none).
    warmup: (usize, usize),
    /// Training: the loader hands out positions 0..n in order, which this maps through the
    /// epoch's permutation; and the device's random stream is reseeded at each epoch's start.
    shuffle: bool,
    /// Batches made so far in the run, counting the epochs a resumed run skipped.
    batches: Arc<AtomicUsize>,
    /// The permutation of the current epoch.
    order: Arc<Mutex<(usize, Arc<Vec<usize>>)>>,
    /// With [`Placement::Device`], the set on the device.
    resident: Option<Arc<Residency>>,
    /// Numbers of VAE noise to draw on the host per sample (0: none; the device draws it).
    latent_noise: usize,
}

/// Stream ids, so the order, the device's seed and the noise draw from different streams.
const ORDER_STREAM: u64 = 0x5EED_0DE5;
const DEVICE_STREAM: u64 = 0xDE71_CE55;
const LATENT_STREAM: u64 = 0x1A7E_4715;

/// The VAE's reparameterisation noise for the samples of `indices`, `[indices.len(), k]`
/// draws of N(0, 1): sample `i` always gets stream `(seed, i)`, so a test figure is the same on
/// every backend, for every batch size, and in `train` and `ae` alike.
pub fn latent_noise(seed: u64, indices: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let mut values = Vec::with_capacity(indices.len() * k);
    for &i in indices {
        let mut rng = Rng::stream(seed ^ LATENT_STREAM, i as u64);
        values.extend((0..k).map(|_| rng.normal()));
    }
    Tensor::from_data(TensorData::new(values, [indices.len(), k]), device)
}

impl SampleBatcher {
    /// A batcher of clean batches over `set`, in the order asked for.
    pub fn new(set: Arc<Samples>, seed: u64) -> Self {
        SampleBatcher {
            set,
            corruption: Corruption::None,
            seed,
            warmup: (1, 0),
            shuffle: false,
            batches: Arc::new(AtomicUsize::new(0)),
            order: Arc::new(Mutex::new((usize::MAX, Arc::new(Vec::new())))),
            resident: None,
            latent_noise: 0,
        }
    }

    /// Gives each batch the VAE's noise (`k` numbers per sample), drawn on the host from the
    /// sample's own stream ([`latent_noise`]): for test batches, whose figure then depends on
    /// the weights alone.
    pub fn with_latent_noise(mut self, k: usize) -> Self {
        self.latent_noise = k;
        self
    }

    /// Keeps the clean samples where `placement` says.
    pub fn with_placement(mut self, placement: Placement) -> Self {
        self.resident = match placement {
            Placement::Host => None,
            Placement::Device { max_bytes } => Some(Arc::new(Residency::new(max_bytes))),
        };
        self
    }

    /// Uploads the set to `device` now, if this batcher keeps it there. An error says why it
    /// cannot be (the batcher then makes its batches on the host, as with [`Placement::Host`]).
    pub fn keep_on(&self, device: &Device) -> anyhow::Result<()> {
        match &self.resident {
            Some(residency) => residency.keep_on(&self.set, device),
            None => Ok(()),
        }
    }

    /// Corrupts the inputs.
    pub fn with_corruption(mut self, corruption: Corruption) -> Self {
        self.corruption = corruption;
        self
    }

    /// Makes this the training batcher: epochs of `batches_per_epoch` batches, each in a new
    /// order; the regulariser's factor rising linearly from 0 to 1 over `warmup_epochs`; and
    /// the run starting after `done_epochs` finished epochs (0 for a new run).
    pub fn for_training(
        mut self,
        batches_per_epoch: usize,
        warmup_epochs: usize,
        done_epochs: usize,
    ) -> Self {
        self.warmup = (batches_per_epoch.max(1), warmup_epochs);
        self.shuffle = true;
        self.batches = Arc::new(AtomicUsize::new(done_epochs * self.warmup.0));
        self
    }

    fn anneal(&self, batch: usize) -> f32 {
        let (per_epoch, epochs) = self.warmup;
        if epochs == 0 {
            return 1.0;
        }
        ((batch + 1) as f64 / (per_epoch * epochs) as f64).min(1.0) as f32
    }

    /// The sample order of `epoch` (0-based): a permutation drawn from the seed and the epoch.
    fn order(&self, epoch: usize) -> Arc<Vec<usize>> {
        let mut cached = self.order.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != epoch {
            let mut rng = Rng::stream(self.seed ^ ORDER_STREAM, epoch as u64);
            let mut order: Vec<usize> = (0..self.set.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            *cached = (epoch, Arc::new(order));
        }
        cached.1.clone()
    }
}

impl Batcher<usize, AeBatch> for SampleBatcher {
    fn batch(&self, indices: Vec<usize>, device: &Device) -> AeBatch {
        let batch = self.batches.fetch_add(1, Ordering::Relaxed);
        let indices = if self.shuffle {
            let epoch = batch / self.warmup.0;
            if batch.is_multiple_of(self.warmup.0) {
                // Random draws on the device (the VAE's) depend on the epoch, not on history.
                device.seed(Rng::stream(self.seed ^ DEVICE_STREAM, epoch as u64).next_u64());
            }
            let order = self.order(epoch);
            indices.iter().map(|&p| order[p]).collect()
        } else {
            indices
        };
        let resident = self
            .resident
            .as_ref()
            .and_then(|r| r.gather(&self.set, &indices, device));
        let target = resident.unwrap_or_else(|| samples_tensor(&self.set, &indices, device));
        let input = match self.corruption {
            Corruption::None => target.clone(),
            Corruption::Fixed(noise) => {
                corrupted_tensor(&self.set, &indices, &noise, self.seed, device)
            }
            Corruption::Fresh(noise) => {
                // A stream per batch made: different noise every epoch, reproducible per seed.
                let seed = Rng::stream(self.seed, batch as u64).next_u64();
                corrupted_tensor(&self.set, &indices, &noise, seed, device)
            }
        };
        let noise = (self.latent_noise > 0)
            .then(|| latent_noise(self.seed, &indices, self.latent_noise, device));
        AeBatch {
            input,
            target,
            indices,
            anneal: self.anneal(batch),
            noise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_rises_linearly_then_stays_at_one() {
        let set = Arc::new(Samples::Vectors(ae_data::synthetic::onehot4(1)));
        let b = SampleBatcher::new(set.clone(), 1).for_training(5, 2, 0);
        let f: Vec<f32> = (0..12).map(|i| b.anneal(i)).collect();
        assert!(
            (f[0] - 0.1).abs() < 1e-6 && (f[4] - 0.5).abs() < 1e-6,
            "{f:?}"
        );
        assert!(f[9..].iter().all(|&x| x == 1.0), "{f:?}");
        assert_eq!(SampleBatcher::new(set, 1).anneal(0), 1.0);
    }

    #[test]
    fn each_epoch_has_its_own_order_and_a_resumed_run_sees_the_same_one() {
        let dev = Device::flex();
        let set = Arc::new(Samples::Vectors(ae_data::synthetic::onehot4(1)));
        let order = |b: &SampleBatcher| b.batch(vec![0, 1, 2, 3], &dev).indices;
        let fresh = SampleBatcher::new(set.clone(), 3).for_training(1, 0, 0);
        let epochs: Vec<Vec<usize>> = (0..6).map(|_| order(&fresh)).collect();
        for e in &epochs {
            let mut sorted = e.clone();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3], "a permutation: {e:?}");
        }
        assert!(epochs.windows(2).any(|w| w[0] != w[1]), "{epochs:?}");
        let resumed = SampleBatcher::new(set, 3).for_training(1, 0, 4);
        assert_eq!(order(&resumed), epochs[4]);
        assert_eq!(order(&resumed), epochs[5]);
    }

    #[test]
    fn batches_gathered_on_the_device_equal_those_gathered_on_the_host() {
        let dev = Device::flex();
        let pixels = (0..50 * 16).map(|i| (i * 7 % 256) as u8).collect();
        let labels = (0..50).map(|i| (i % 10) as u8).collect();
        let set = Arc::new(Samples::Images(ae_data::ImageSet {
            channels: 1,
            rows: 4,
            cols: 4,
            pixels,
            labels,
        }));
        let host = SampleBatcher::new(set.clone(), 5).for_training(4, 0, 0);
        let device = SampleBatcher::new(set, 5)
            .with_placement(Placement::Device {
                max_bytes: crate::input::resident::DEFAULT_MAX_BYTES,
            })
            .for_training(4, 0, 0);
        device.keep_on(&dev).unwrap();
        for positions in [vec![0, 1, 2], vec![3, 4, 5, 6, 7], vec![49]] {
            let (a, b) = (
                host.batch(positions.clone(), &dev),
                device.batch(positions, &dev),
            );
            let f = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(f(a.target), f(b.target));
            assert_eq!(f(a.input), f(b.input));
            assert_eq!(a.indices, b.indices);
        }
        assert!(device.resident.as_ref().unwrap().is_resident());
    }

    #[test]
    fn a_set_that_cannot_be_kept_on_the_device_is_batched_on_the_host() {
        let dev = Device::flex();
        let set = Arc::new(Samples::Vectors(ae_data::synthetic::plane3d(20, 2)));
        let host = SampleBatcher::new(set.clone(), 5);
        let device = SampleBatcher::new(set, 5).with_placement(Placement::Device {
            max_bytes: crate::input::resident::DEFAULT_MAX_BYTES,
        });
        assert!(device.keep_on(&dev).is_err());
        let f = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
        let (a, b) = (host.batch(vec![1, 7], &dev), device.batch(vec![1, 7], &dev));
        assert_eq!(f(a.target), f(b.target));
        assert!(!device.resident.as_ref().unwrap().is_resident());
    }

    #[test]
    fn fixed_noise_is_the_same_every_time_fresh_noise_is_not() {
        let dev = Device::flex();
        let set = Arc::new(Samples::Vectors(ae_data::synthetic::onehot4(4)));
        let noise = Noise::Gaussian { std: 0.3 };
        let read = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().unwrap();
        let fixed = SampleBatcher::new(set.clone(), 9).with_corruption(Corruption::Fixed(noise));
        let a = read(fixed.batch(vec![0, 1, 2], &dev).input);
        let b = read(fixed.batch(vec![0, 1, 2], &dev).input);
        assert_eq!(a, b);
        let fresh = SampleBatcher::new(set, 9).with_corruption(Corruption::Fresh(noise));
        let c = fresh.batch(vec![0, 1, 2], &dev);
        let d = read(fresh.batch(vec![0, 1, 2], &dev).input);
        assert_ne!(read(c.input), d);
        // The target stays clean.
        assert_eq!(read(c.target)[..4], [1.0, 0.0, 0.0, 0.0]);
    }
}
