//! The kernels under autodiff: each op records a node whose backward calls the op's backward
//! kernel on the inner backend.

mod gaussian;
mod linear;

use crate::KernelBackend;
use burn::backend::AutodiffBackend;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{FloatDType, Shape};

impl<B: KernelBackend, C: CheckpointStrategy> KernelBackend for Autodiff<B, C> {
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct MaxPoolBackward;

        impl<B: KernelBackend> Backward<B, 1> for MaxPoolBackward {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [parent] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let x: FloatTensor<B> = checkpointer.retrieve_node_output(ops.state);
                if let Some(node) = parent {
                    grads.register::<B>(node.id, B::max_pool2x2_backward(x, grad));
                }
            }
        }

        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, B::max_pool2x2(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool2x2(x.into_primitive())),
        }
    }

    fn max_pool2x2_backward(_x: FloatTensor<Self>, _grad: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("called by the max-pool node's backward on the inner backend only")
    }

    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> FloatTensor<Self> {
        let pool = false;
        conv_node::<B, C>(
            x,
            weight,
            bias,
            Conv::Same3x3 {
                pad,
                relu,
                up,
                pool,
            },
        )
        .0
    }

    /// The pooled output carries the gradient; the output before the pool is handed back
    /// untracked (the node keeps it for its backward).
    fn conv3x3_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let pool = true;
        let (pooled, out) = conv_node::<B, C>(
            x,
            weight,
            bias,
            Conv::Same3x3 {
                pad,
                relu,
                up,
                pool,
            },
        );
        let out = out.expect("the pooled convolution hands back its output before the pool");
        (<Self as AutodiffBackend>::from_inner(out), pooled)
    }

    fn conv3x3_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _out: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _pad: usize,
        _relu: bool,
        _up: bool,
        _pool: bool,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the convolution node's backward on the inner backend only")
    }

    fn conv_transpose3x3s2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        conv_node::<B, C>(x, weight, bias, Conv::Up3x3).0
    }

    fn conv_transpose3x3s2_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the convolution node's backward on the inner backend only")
    }

    fn bce_with_logits_rows(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        bce_node::<B, C>(z, t, false)
    }

    fn bce_with_logits_mean(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        _keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        bce_node::<B, C>(z, t, true)
    }

    fn gaussian_code(
        h: FloatTensor<Self>,
        wmu: FloatTensor<Self>,
        bmu: FloatTensor<Self>,
        wlv: FloatTensor<Self>,
        blv: FloatTensor<Self>,
        eps: FloatTensor<Self>,
        kl_weight: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        gaussian::gaussian_node::<B, C>(h, wmu, bmu, wlv, blv, eps, kl_weight)
    }

    fn gaussian_code_backward(
        _h: FloatTensor<Self>,
        _wmu: FloatTensor<Self>,
        _wlv: FloatTensor<Self>,
        _heads: FloatTensor<Self>,
        _eps: FloatTensor<Self>,
        _gz: FloatTensor<Self>,
        _kl_weight: FloatTensor<Self>,
        _need_h: bool,
        _need_w: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        unreachable!("called by the code node's backward on the inner backend only")
    }

    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        linear::linear_node::<B, C>(x, weight, bias, relu)
    }

    fn dense_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _out: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _relu: bool,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the layer node's backward on the inner backend only")
    }

    fn dense_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        linear::dense_bce_node::<B, C>(x, weight, bias, t)
    }

    fn dense_bce_mean_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _z: FloatTensor<Self>,
        _t: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the layer-and-loss node's backward on the inner backend only")
    }

    /// Data, not a function of parameters: the inner backend's values, untracked.
    fn unpack_bytes(words: IntTensor<Self>, idx: IntTensor<Self>, d: usize) -> FloatTensor<Self> {
        <Self as AutodiffBackend>::from_inner(B::unpack_bytes(words, idx, d))
    }

    fn bce_with_logits_mean_backward(
        _z: FloatTensor<Self>,
        _t: FloatTensor<Self>,
        _kept: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the loss node's backward on the inner backend only")
    }

    fn bce_with_logits_rows_backward(
        _z: FloatTensor<Self>,
        _t: FloatTensor<Self>,
        _kept: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the loss node's backward on the inner backend only")
    }
}

/// A float tensor of the autodiff backend over `B`.
type AdTensor<B, C> = FloatTensor<Autodiff<B, C>>;

/// The loss's node: [`KernelBackend::bce_with_logits_mean`] if `mean`, else the row sums.
/// Tracked, the inner backend is asked to keep `sigmoid(z) - t` for the backward; the node
/// returns an empty tensor in the kept one's place.
fn bce_node<B: KernelBackend, C: CheckpointStrategy>(
    z: FloatTensor<Autodiff<B, C>>,
    t: FloatTensor<Autodiff<B, C>>,
    mean: bool,
) -> (AdTensor<B, C>, AdTensor<B, C>) {
    /// Which of the two reductions the node is: the mean (`true`) or the row sums.
    #[derive(Debug)]
    struct BceBackward(bool);

    impl<B: KernelBackend> Backward<B, 2> for BceBackward {
        /// The logits' and the targets' checkpoints, and what the forward kept.
        type State = (NodeId, NodeId, FloatTensor<B>);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let [node_z, node_t] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let z: FloatTensor<B> = checkpointer.retrieve_node_output(ops.state.0);
            let t: FloatTensor<B> = checkpointer.retrieve_node_output(ops.state.1);
            let kept = ops.state.2;
            let need_t = node_t.is_some();
            let (gz, gt) = if self.0 {
                B::bce_with_logits_mean_backward(z, t, kept, grad, need_t)
            } else {
                B::bce_with_logits_rows_backward(z, t, kept, grad, need_t)
            };
            if let Some(node) = node_z {
                grads.register::<B>(node.id, gz);
            }
            if let Some(node) = node_t {
                grads.register::<B>(node.id, gt);
            }
        }
    }

    let forward = |z, t, keep| {
        if mean {
            B::bce_with_logits_mean(z, t, keep)
        } else {
            B::bce_with_logits_rows(z, t, keep)
        }
    };
    let wrap = <Autodiff<B, C> as AutodiffBackend>::from_inner;
    match BceBackward(mean)
        .prepare::<C>([z.node(), t.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let (z_state, t_state) = (prep.checkpoint(&z), prep.checkpoint(&t));
            let (loss, kept) = forward(z.into_primitive(), t.into_primitive(), true);
            let dtype = FloatDType::from(loss.dtype());
            let none = B::float_empty(Shape::new([0]), &loss.device(), dtype);
            (prep.finish((z_state, t_state, kept), loss), wrap(none))
        }
        OpsKind::UnTracked(prep) => {
            let (loss, none) = forward(z.into_primitive(), t.into_primitive(), false);
            (prep.finish(loss), wrap(none))
        }
    }
}

/// Which of the two convolutions a node is.
#[derive(Debug, Clone, Copy)]
enum Conv {
    /// [`KernelBackend::conv3x3`] with this padding, ReLU or not, up-sampling or not; or, if
    /// `pool`, [`KernelBackend::conv3x3_pool`].
    Same3x3 {
        pad: usize,
        relu: bool,
        up: bool,
        pool: bool,
    },
    /// [`KernelBackend::conv_transpose3x3s2`].
    Up3x3,
}

impl Conv {
    /// The node's output, and the convolution's own output where the backward reads it
    /// (ReLU's mask, the pool's maxima) or, pooled, where it is not the node's output.
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
            Conv::Up3x3 => (B::conv_transpose3x3s2(x, weight, bias), None),
        }
    }
}

#[derive(Debug)]
struct ConvBackward;

impl<B: KernelBackend> Backward<B, 3> for ConvBackward {
    /// The input's and the weight's checkpoints, which convolution, and its output when the
    /// backward needs it (ReLU's mask, the pool's maxima).
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
            Conv::Up3x3 => B::conv_transpose3x3s2_backward(x, w, grad, need_x, need_w),
        };
        for (node, grad) in [node_x, node_w, node_b].into_iter().zip([gx, gw, gb]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// A convolution under autodiff: the inner backend's forward, and a node whose backward is
/// the inner backend's backward kernel. Also the convolution's output before the pool when
/// `conv` pools (the node's output is the pooled one).
fn conv_node<B: KernelBackend, C: CheckpointStrategy>(
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
