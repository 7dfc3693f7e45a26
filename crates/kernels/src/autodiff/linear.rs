//! The fully connected layer under autodiff: the inner backend's forward, and a node whose
//! backward is the inner backend's gradient op, with the output kept for ReLU's mask.

use crate::KernelBackend;
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
