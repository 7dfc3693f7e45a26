//! What the Learner needs of an autoencoder: a batch type, an output type, and the steps.

use crate::autoencoder::Autoencoder;
use crate::contract::LossTerms;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::ExecutionError;
use burn::train::{InferenceStep, ItemLazy, TrainOutput, TrainStep};

/// A batch: what goes in, what should come out, and which samples these are.
#[derive(Debug, Clone)]
pub struct AeBatch {
    /// `[batch, c, h, w]` inputs in [0, 1] (corrupted ones when denoising).
    pub input: Tensor<4>,
    /// `[batch, c, h, w]` clean images in [0, 1].
    pub target: Tensor<4>,
    /// The samples' indices in their data set, on the host: no upload (on wgpu, two
    /// operations a step for Burn's fusion server, an upload and a drop) for what the loss
    /// does not use.
    pub indices: Vec<usize>,
    /// Factor on the regulariser for this batch, in [0, 1]: rises during a KL warm-up, else 1.
    pub anneal: f32,
    /// The VAE's reparameterisation noise, `[batch, latent]`; `None`: drawn on the device
    /// (training). Test batches give it, so that a test figure depends on the weights alone.
    pub noise: Option<Tensor<2>>,
}

/// The result of one step: the loss and its terms, each `[1]`.
#[derive(Debug, Clone)]
pub struct AeOutput {
    /// The loss, as terms.
    pub loss: LossTerms,
    /// Images in the batch (the weight of this batch in an epoch average).
    pub batch_size: usize,
    /// The total, then each term, read back to the host together by [`ItemLazy::sync`] (one
    /// read per step, not one per term); empty until then.
    pub values: Vec<f64>,
}

impl AeOutput {
    fn new(loss: LossTerms, batch_size: usize) -> Self {
        AeOutput {
            loss,
            batch_size,
            values: Vec::new(),
        }
    }
}

impl ItemLazy for AeOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        // Drop the autodiff graph so the metric thread holds plain tensors, and read every
        // figure of the step in one transfer: each read waits for the device.
        let strip = |t: Tensor<1>| t.without_autodiff();
        let loss = LossTerms {
            total: strip(self.loss.total),
            terms: self
                .loss
                .terms
                .into_iter()
                .map(|(n, t)| (n, strip(t)))
                .collect(),
        };
        let mut all = vec![loss.total.clone()];
        all.extend(loss.terms.iter().map(|(_, t)| t.clone()));
        let data = Tensor::cat(all, 0).try_into_data()?;
        let values = data
            .try_to_vec::<f32>()
            .map_err(|e| ExecutionError::WithContext {
                reason: format!("reading the loss back: {e:?}"),
            })?
            .into_iter()
            .map(f64::from)
            .collect();
        Ok(AeOutput {
            loss,
            batch_size: self.batch_size,
            values,
        })
    }
}

impl TrainStep for Autoencoder {
    type Input = AeBatch;
    type Output = AeOutput;

    /// The optimizer's step, with Adam's steps four parameters to a launch on wgpu
    /// ([`ae_kernels::adam_group::step_module`]); elsewhere Burn's per-parameter step.
    fn optimize(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        grads: GradientsParams,
    ) -> Self {
        ae_kernels::adam_group::step_module(optim, lr, self, grads)
    }

    fn step(&self, batch: AeBatch) -> TrainOutput<AeOutput> {
        let batch_size = batch.input.dims()[0];
        let loss = self.forward_loss_with(batch.input, batch.target, batch.anneal, batch.noise);
        let grads = loss.total.backward();
        TrainOutput::new(self, grads, AeOutput::new(loss, batch_size))
    }
}

impl InferenceStep for Autoencoder {
    type Input = AeBatch;
    type Output = AeOutput;

    fn step(&self, batch: AeBatch) -> AeOutput {
        let batch_size = batch.input.dims()[0];
        AeOutput::new(
            self.forward_loss_with(batch.input, batch.target, batch.anneal, batch.noise),
            batch_size,
        )
    }
}
