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

#[derive(Debug)]
struct LinearBackward;

impl<B: KernelBackend> Backward<B, 3> for LinearBackward {
    /// The input's and the weight's checkpoints, whether ReLU follows, and then the output
    /// (for its mask).
    type State = (NodeId, NodeId, bool, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state, relu, out) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let w: FloatTensor<B> = checkpointer.retrieve_node_output(w_state);
        let (need_x, need_w) = (node_x.is_some(), node_w.is_some() || node_b.is_some());
        // Without ReLU the output is not read: the gradient stands in for it.
        let out = out.unwrap_or_else(|| grad.clone());
        let (gx, gw, gb) = B::dense_backward(x, w, out, grad, relu, need_x, need_w);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, gx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, gw);
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, gb);
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
    match LinearBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let y = B::dense(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                relu,
            );
            let keep = relu.then(|| y.clone());
            prep.finish((x_state, w_state, relu, keep), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(B::dense(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            relu,
        )),
    }
}

#[derive(Debug)]
struct DenseBceBackward;

impl<B: KernelBackend> Backward<B, 3> for DenseBceBackward {
    /// The input's and the weight's checkpoints, the logits and the targets.
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state, z, t) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let w: FloatTensor<B> = checkpointer.retrieve_node_output(w_state);
        let (need_x, need_w) = (node_x.is_some(), node_w.is_some() || node_b.is_some());
        let (gx, gw, gb) = B::dense_bce_mean_backward(x, w, z, t, grad, need_x, need_w);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, gx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, gw);
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, gb);
        }
    }
}

/// [`KernelBackend::dense_bce_mean`] under autodiff: the mean carries the gradient, the
/// logits come back untracked. The targets are taken as constants (the public function
/// sends tracked ones to the unfused ops).
pub(super) fn dense_bce_node<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    t: FloatTensor<Autodiff<B, C>>,
) -> (AdTensor<B, C>, AdTensor<B, C>) {
    let wrap = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    let t = t.into_primitive();
    match DenseBceBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let (z, mean) = B::dense_bce_mean(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                t.clone(),
            );
            (wrap(z.clone()), prep.finish((x_state, w_state, z, t), mean))
        }
        OpsKind::UnTracked(prep) => {
            let (z, mean) = B::dense_bce_mean(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                t,
            );
            (wrap(z), prep.finish(mean))
        }
    }
}
