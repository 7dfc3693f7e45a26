//! The VAE's Gaussian code under autodiff: the inner backend's forward, and one node whose
//! backward is the inner backend's gradient op. The draw `z` carries the gradient; the KL
//! comes back untracked, its gradient (times the weight the op was given) added in `z`'s
//! backward ([`crate::KernelBackend::gaussian_code`]).

use super::AdTensor;
use crate::KernelBackend;
use burn::backend::AutodiffBackend;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

/// What the backward keeps of the forward: the heads, the noise and the KL's weight.
#[derive(Debug)]
struct Kept<B: KernelBackend> {
    heads: FloatTensor<B>,
    eps: FloatTensor<B>,
    kl_weight: FloatTensor<B>,
}

// By hand: a derive would ask `B: Clone`, where only its tensors need to be.
impl<B: KernelBackend> Clone for Kept<B> {
    fn clone(&self) -> Self {
        Kept {
            heads: self.heads.clone(),
            eps: self.eps.clone(),
            kl_weight: self.kl_weight.clone(),
        }
    }
}

#[derive(Debug)]
struct GaussianBackward;

impl<B: KernelBackend> Backward<B, 5> for GaussianBackward {
    /// The features', the mean weight's and the log-variance weight's checkpoints, and what
    /// the forward kept.
    type State = (NodeId, NodeId, NodeId, Kept<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let (h_state, wmu_state, wlv_state, kept) = ops.state;
        let h: FloatTensor<B> = checkpointer.retrieve_node_output(h_state);
        let wmu: FloatTensor<B> = checkpointer.retrieve_node_output(wmu_state);
        let wlv: FloatTensor<B> = checkpointer.retrieve_node_output(wlv_state);
        let need_h = ops.parents[0].is_some();
        let need_w = ops.parents[1..].iter().any(Option::is_some);
        let Kept {
            heads,
            eps,
            kl_weight,
        } = kept;
        let (gh, gwmu, gbmu, gwlv, gblv) =
            B::gaussian_code_backward(h, wmu, wlv, heads, eps, grad, kl_weight, need_h, need_w);
        for (node, grad) in ops.parents.into_iter().zip([gh, gwmu, gbmu, gwlv, gblv]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// [`KernelBackend::gaussian_code`] under autodiff: `z` tracked, the heads and the KL not.
/// The noise and the KL's weight are taken as constants (the public function sends tracked
/// noise to Burn's operations).
#[allow(clippy::too_many_arguments, reason = "the op's arguments, in order")]
pub(super) fn gaussian_node<B: KernelBackend, C: CheckpointStrategy>(
    h: FloatTensor<Autodiff<B, C>>,
    wmu: FloatTensor<Autodiff<B, C>>,
    bmu: FloatTensor<Autodiff<B, C>>,
    wlv: FloatTensor<Autodiff<B, C>>,
    blv: FloatTensor<Autodiff<B, C>>,
    eps: FloatTensor<Autodiff<B, C>>,
    kl_weight: FloatTensor<Autodiff<B, C>>,
) -> (AdTensor<B, C>, AdTensor<B, C>, AdTensor<B, C>) {
    let wrap = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    let (eps, kl_weight) = (eps.into_primitive(), kl_weight.into_primitive());
    let parents = [h.node(), wmu.node(), bmu.node(), wlv.node(), blv.node()];
    match GaussianBackward
        .prepare::<C>(parents)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let states = (
                prep.checkpoint(&h),
                prep.checkpoint(&wmu),
                prep.checkpoint(&wlv),
            );
            let inner = [h, wmu, bmu, wlv, blv].map(|t| t.into_primitive());
            let [h, wmu, bmu, wlv, blv] = inner;
            let (z, heads, kl) =
                B::gaussian_code(h, wmu, bmu, wlv, blv, eps.clone(), kl_weight.clone());
            let kept = Kept {
                heads: heads.clone(),
                eps,
                kl_weight,
            };
            let z = prep.finish((states.0, states.1, states.2, kept), z);
            (z, wrap(heads), wrap(kl))
        }
        OpsKind::UnTracked(prep) => {
            let [h, wmu, bmu, wlv, blv] = [h, wmu, bmu, wlv, blv].map(|t| t.into_primitive());
            let (z, heads, kl) = B::gaussian_code(h, wmu, bmu, wlv, blv, eps, kl_weight);
            (prep.finish(z), wrap(heads), wrap(kl))
        }
    }
}
