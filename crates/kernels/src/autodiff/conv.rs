//! The convolutions under autodiff: the 3x3 one (with its ReLU, up-sampling and pool, or with
//! the mean loss after it) and the stride-2 transposed one (with its ReLU), one node each
//! whose backward is the inner backend's gradient op.

use super::AdTensor;
use crate::KernelBackend;
use burn::backend::AutodiffBackend;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

/// Which of the two convolutions a node is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Conv {
    /// [`KernelBackend::conv3x3`] with this padding, ReLU or not, up-sampling or not; or, if
    /// `pool`, [`KernelBackend::conv3x3_pool`].
    Same3x3 {
        pad: usize,
        relu: bool,
        up: bool,
        pool: bool,
    },
    /// [`KernelBackend::conv_transpose3x3s2`], ReLU or not.
    Up3x3 { relu: bool },
    /// [`KernelBackend::conv3x3_bce_mean`] with this padding, up-sampling or not: its node's
    /// output is the mean, and the backward reads the residuals (never made by
    /// [`Conv::forward`]: [`conv_bce_node`]).
    BceMean { pad: usize, up: bool },
}

impl Conv {
    /// The node's output, and what the backward reads of the forward: the convolution's own
    /// output for ReLU's mask, or, pooled, what the inner backend kept for the pool's maxima.
    fn forward<B: KernelBackend>(
        self,
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        bias: FloatTensor<B>,
    ) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
        match self {
            Conv::Same3x3 {
                pad,
                relu,
                up,
                pool: true,
            } => {
                let (out, pooled) = B::conv3x3_pool(x, weight, bias, pad, relu, up);
                (pooled, Some(out))
            }
            Conv::Same3x3 { pad, relu, up, .. } => {
                let out = B::conv3x3(x, weight, bias, pad, relu, up);
                let keep = relu.then(|| out.clone());
                (out, keep)
            }
            Conv::Up3x3 { relu } => {
                let out = B::conv_transpose3x3s2(x, weight, bias, relu);
                let keep = relu.then(|| out.clone());
                (out, keep)
            }
            Conv::BceMean { .. } => unreachable!("the loss's node is made by conv_bce_node"),
        }
    }
}

#[derive(Debug)]
struct ConvBackward;

impl<B: KernelBackend> Backward<B, 3> for ConvBackward {
    /// The input's and the weight's checkpoints, which convolution, and its output when the
    /// backward needs it (ReLU's mask, the pool's maxima; the loss's residuals).
    type State = (NodeId, NodeId, Conv, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state, conv, out) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let w: FloatTensor<B> = checkpointer.retrieve_node_output(w_state);
        let (need_x, need_w) = (node_x.is_some(), node_w.is_some() || node_b.is_some());
        let (gx, gw, gb) = match conv {
            Conv::Same3x3 {
                pad,
                relu,
                up,
                pool,
            } => {
                // Without ReLU or pool the output is not read: the gradient stands in for it.
                let out = out.unwrap_or_else(|| grad.clone());
                B::conv3x3_backward(x, w, out, grad, pad, relu, up, pool, need_x, need_w)
            }
            Conv::Up3x3 { relu } => {
                let out = out.unwrap_or_else(|| grad.clone());
                B::conv_transpose3x3s2_backward(x, w, out, grad, relu, need_x, need_w)
            }
            Conv::BceMean { pad, up } => {
                let d = out.expect("the loss's node keeps its residuals");
                B::conv3x3_bce_mean_backward(x, w, d, grad, pad, up, need_x, need_w)
            }
        };
        for (node, grad) in [node_x, node_w, node_b].into_iter().zip([gx, gw, gb]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// A convolution under autodiff: the inner backend's forward, and a node whose backward is
/// the inner backend's backward kernel. Also, when `conv` pools (the node's output is the
/// pooled one), what the inner backend kept for the backward ([`KernelBackend::conv3x3_pool`]).
pub(super) fn conv_node<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    conv: Conv,
) -> (FloatTensor<Autodiff<B, C>>, Option<FloatTensor<B>>) {
    let pooled = matches!(conv, Conv::Same3x3 { pool: true, .. });
    match ConvBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let (y, keep) = conv.forward::<B>(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            );
            let before_pool = if pooled { keep.clone() } else { None };
            (prep.finish((x_state, w_state, conv, keep), y), before_pool)
        }
        OpsKind::UnTracked(prep) => {
            let (y, keep) = conv.forward::<B>(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            );
            (prep.finish(y), if pooled { keep } else { None })
        }
    }
}

/// [`KernelBackend::conv3x3_bce_mean`] under autodiff: the mean carries the gradient, the
/// residuals come back untracked. The targets are taken as constants (the public function
/// sends tracked ones to the unfused ops).
pub(super) fn conv_bce_node<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    t: FloatTensor<Autodiff<B, C>>,
    pad: usize,
    up: bool,
) -> (AdTensor<B, C>, AdTensor<B, C>) {
    let wrap = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    let t = t.into_primitive();
    match ConvBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (x_state, w_state) = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            let (d, mean) = B::conv3x3_bce_mean(x, weight, bias, t, pad, up);
            let state = (x_state, w_state, Conv::BceMean { pad, up }, Some(d.clone()));
            (wrap(d), prep.finish(state, mean))
        }
        OpsKind::UnTracked(prep) => {
            let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
            let (d, mean) = B::conv3x3_bce_mean(x, weight, bias, t, pad, up);
            (wrap(d), prep.finish(mean))
        }
    }
}
