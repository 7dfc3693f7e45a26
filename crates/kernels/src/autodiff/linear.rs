//! The fully connected layer under autodiff, alone or with the loss after it: the inner
//! backend's forward, and a node whose backward is the inner backend's gradient op, with the
//! output kept for ReLU's mask or the loss's gradient.

use super::AdTensor;
use crate::KernelBackend;
use burn::backend::AutodiffBackend;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

/// What follows the layer in the node, and what its backward keeps for it.
#[derive(Debug)]
enum After<B: KernelBackend> {
    /// ReLU or nothing ([`KernelBackend::dense`]): the output, kept for ReLU's mask.
    Activation {
        relu: bool,
        out: Option<FloatTensor<B>>,
    },
    /// The loss's mean ([`KernelBackend::dense_bce_mean`]): the residuals it gave.
    BceMean { d: FloatTensor<B> },
}

// By hand: a derive would ask `B: Clone`, where only its tensors need to be.
impl<B: KernelBackend> Clone for After<B> {
    fn clone(&self) -> Self {
        match self {
            After::Activation { relu, out } => After::Activation {
                relu: *relu,
                out: out.clone(),
            },
            After::BceMean { d } => After::BceMean { d: d.clone() },
        }
    }
}

#[derive(Debug)]
struct DenseBackward;

impl<B: KernelBackend> Backward<B, 3> for DenseBackward {
    /// The input's and the weight's checkpoints, and what follows the layer.
    type State = (NodeId, NodeId, After<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state, after) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let w: FloatTensor<B> = checkpointer.retrieve_node_output(w_state);
        let (need_x, need_w) = (node_x.is_some(), node_w.is_some() || node_b.is_some());
        let (gx, gw, gb) = match after {
            After::Activation { relu, out } => {
                // Without ReLU the output is not read: the gradient stands in for it.
                let out = out.unwrap_or_else(|| grad.clone());
                B::dense_backward(x, w, out, grad, relu, need_x, need_w)
            }
            After::BceMean { d } => B::dense_bce_mean_backward(x, w, d, grad, need_x, need_w),
        };
        for (node, grad) in [node_x, node_w, node_b].into_iter().zip([gx, gw, gb]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// [`KernelBackend::dense`] under autodiff.
pub(super) fn linear_node<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    relu: bool,
) -> FloatTensor<Autodiff<B, C>> {
    match DenseBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            let y = B::dense(x, weight, bias, relu);
            let out = relu.then(|| y.clone());
            prep.finish((x_state, w_state, After::Activation { relu, out }), y)
        }
        OpsKind::UnTracked(prep) => {
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            prep.finish(B::dense(x, weight, bias, relu))
        }
    }
}

/// [`KernelBackend::dense_bce_mean`] under autodiff: the mean carries the gradient, the
/// residuals come back untracked. The targets are taken as constants (the public function
/// sends tracked ones to the unfused ops).
pub(super) fn dense_bce_node<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    t: FloatTensor<Autodiff<B, C>>,
) -> (AdTensor<B, C>, AdTensor<B, C>) {
    let wrap = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    let t = t.into_primitive();
    match DenseBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            let (d, mean) = B::dense_bce_mean(x, weight, bias, t);
            let after = After::BceMean { d: d.clone() };
            (wrap(d), prep.finish((x_state, w_state, after), mean))
        }
        OpsKind::UnTracked(prep) => {
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            let (d, mean) = B::dense_bce_mean(x, weight, bias, t);
            (wrap(d), prep.finish(mean))
        }
    }
}
