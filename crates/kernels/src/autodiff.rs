//! The kernels under autodiff: each op records a node whose backward calls the op's backward
//! kernel on the inner backend.

mod conv;
mod gaussian;
mod linear;

use conv::{Conv, conv_bce_node, conv_node};

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

    /// The pooled output carries the gradient; what the inner backend kept for the backward
    /// (the output before the pool, or each window's maximum) is handed back untracked (the
    /// node keeps it too).
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

    fn conv3x3_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
        pad: usize,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        conv_bce_node::<B, C>(x, weight, bias, t, pad, up)
    }

    fn conv3x3_bce_mean_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _d: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _pad: usize,
        _up: bool,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the convolution-and-loss node's backward on the inner backend only")
    }

    fn conv_transpose3x3s2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        conv_node::<B, C>(x, weight, bias, Conv::Up3x3 { relu }).0
    }

    fn conv_transpose3x3s2_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _out: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _relu: bool,
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

    /// The optimizer's arithmetic, not a function to differentiate: the inner backend's,
    /// untracked.
    fn adam4(
        p0: FloatTensor<Self>,
        g0: FloatTensor<Self>,
        m0: FloatTensor<Self>,
        v0: FloatTensor<Self>,
        p1: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        v1: FloatTensor<Self>,
        p2: FloatTensor<Self>,
        g2: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        v2: FloatTensor<Self>,
        p3: FloatTensor<Self>,
        g3: FloatTensor<Self>,
        m3: FloatTensor<Self>,
        v3: FloatTensor<Self>,
        factors: FloatTensor<Self>,
        first: usize,
        count: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let i = |t: FloatTensor<Self>| t.into_primitive();
        let out = B::adam4(
            i(p0),
            i(g0),
            i(m0),
            i(v0),
            i(p1),
            i(g1),
            i(m1),
            i(v1),
            i(p2),
            i(g2),
            i(m2),
            i(v2),
            i(p3),
            i(g3),
            i(m3),
            i(v3),
            i(factors),
            first,
            count,
        );
        let w = <Self as AutodiffBackend>::from_inner;
        (
            w(out.0),
            w(out.1),
            w(out.2),
            w(out.3),
            w(out.4),
            w(out.5),
            w(out.6),
            w(out.7),
            w(out.8),
            w(out.9),
            w(out.10),
            w(out.11),
        )
    }

    /// As [`Self::adam4`]: the inner backend's, untracked.
    fn adam2(
        p0: FloatTensor<Self>,
        g0: FloatTensor<Self>,
        m0: FloatTensor<Self>,
        v0: FloatTensor<Self>,
        p1: FloatTensor<Self>,
        g1: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        v1: FloatTensor<Self>,
        factors: FloatTensor<Self>,
        first: usize,
        count: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let i = |t: FloatTensor<Self>| t.into_primitive();
        let out = B::adam2(
            i(p0),
            i(g0),
            i(m0),
            i(v0),
            i(p1),
            i(g1),
            i(m1),
            i(v1),
            i(factors),
            first,
            count,
        );
        let w = <Self as AutodiffBackend>::from_inner;
        (w(out.0), w(out.1), w(out.2), w(out.3), w(out.4), w(out.5))
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
        _d: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _need_x: bool,
        _need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called by the layer-and-loss node's backward on the inner backend only")
    }

    /// Data, not a function of parameters: the inner backend's values, untracked.
    fn unpack_bytes(
        words: IntTensor<Self>,
        idx: IntTensor<Self>,
        c: usize,
        h: usize,
        w: usize,
    ) -> FloatTensor<Self> {
        <Self as AutodiffBackend>::from_inner(B::unpack_bytes(words, idx, c, h, w))
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
