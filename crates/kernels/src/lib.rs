//! `ae-kernels`: our own ops for the few small shapes the autoencoders use, where Burn's
//! general layers are slow on the CPU backends (flex, ndarray). Each op is a method of
//! [`KernelBackend`], a Burn backend extension: implemented on flex and ndarray by host loops
//! (`on_the_host.rs`, `host.rs`, on Burn's thread pool), on CubeCL (wgpu) by GPU kernels for
//! the max-pool, the 3x3 convolution, the stride-2 transposed convolution, the loss, the fully
//! connected layer, the VAE's code, Adam and the batch unpacking (`cube.rs`), on autodiff by a
//! hand-written backward (`autodiff.rs`), and dispatched at run time like Burn's own ops.
//!
//! The public functions (`ops.rs`: [`max_pool2x2`], [`conv3x3_relu_pool`], ...) take ordinary
//! tensors, use the kernel where the device has one ([`Op::runs_on`]) and Burn's own layer
//! everywhere else, so a model can call them on any backend. Every kernel is tested against
//! Burn's layer: values and gradients.
//!
//! The trait and each of its implementations spell out every op's whole signature (Burn's
//! backend-extension macro reads them there), which is why this file, `cube.rs` and
//! `autodiff.rs` run past 400 lines: their length is the ops' arguments, not logic.

#![allow(
    deprecated,
    reason = "ndarray is one of the CPU backends this project runs on; Burn deprecates it in favour of flex"
)]

pub mod adam;
pub mod adam_group;
mod autodiff;
pub mod bce;
pub mod conv;
pub mod conv_transpose;
mod cube;
pub mod gaussian;
mod host;
pub mod linear;
mod on_the_host;
mod ops;
pub mod pool;
mod shapes;
pub mod simd;

pub use ops::*;

use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, backend_extension};

/// The ops, as a Burn backend extension.
/// On CubeCL (`Cube`, behind Burn's fusion: `Fusion`) each op is one opaque step of the
/// fusion stream, whose output shapes the `#[fusion]` attributes give (`shapes.rs`).
#[backend_extension(Flex, NdArray, Cube, Fusion, Autodiff)]
pub trait KernelBackend: Backend {
    /// 2x2 max-pooling, stride 2, rounding the output size up (Keras' `padding="same"`,
    /// PyTorch's `ceil_mode`): `[b, c, h, w] -> [b, c, ceil(h/2), ceil(w/2)]`.
    #[fusion(dtype = x, shape = shapes::pooled(x))]
    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The input gradient of [`KernelBackend::max_pool2x2`] from its input and the output
    /// gradient: each output's gradient goes to the first maximum of its window (row-major).
    #[fusion(dtype = x, shape = x)]
    fn max_pool2x2_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// A 3x3 convolution, stride 1, `pad` 0 or 1 on every side, with bias, of `x` or, if
    /// `up`, of `x` up-sampled 2x (nearest: each pixel repeated in a 2x2 block), and then
    /// `max(., 0)` if `relu`: `x` `[b, c, h, w]`, `weight` `[o, c, 3, 3]`, `bias` `[o]` ->
    /// `[b, o, s h + 2 pad - 2, s w + 2 pad - 2]`, `s` 2 if `up`, else 1.
    #[fusion(dtype = x, shape = shapes::conv3x3(x, weight, pad, up))]
    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> FloatTensor<Self>;

    /// [`KernelBackend::conv3x3`] and its output max-pooled 2x2 (stride 2, rounding up, as
    /// [`KernelBackend::max_pool2x2`]) in one op: `(kept, pooled output)`, `kept` being what
    /// [`KernelBackend::conv3x3_backward`] reads of the forward, each backend's own: on flex
    /// and ndarray the output before the pool; on CubeCL, shaped as the pooled output, which
    /// of each window's outputs is its first maximum (row-major, 0 to 3, as floats), or 4 where
    /// ReLU cut the window (the output before the pool is not stored there).
    #[fusion(meta = shapes::conv3x3_pool)]
    fn conv3x3_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::conv3x3`] for the output gradient `grad`: the input's
    /// (an empty tensor unless `need_x`), the weight's and the bias's (empty unless `need_w`).
    /// With `relu`, `out` is the op's output, and the gradient passes only where it is
    /// positive (ReLU's rule); without, `out` is not read. With `pool`, the op was
    /// [`KernelBackend::conv3x3_pool`], `grad` is the pooled output's gradient and `out` what
    /// that op kept (always read): each window's gradient goes to its first maximum.
    #[fusion(meta = shapes::conv3x3_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the trait's other backward methods"
    )]
    fn conv3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        pad: usize,
        relu: bool,
        up: bool,
        pool: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`KernelBackend::conv3x3`] without ReLU (its outputs are logits `z`) and the mean over
    /// all of them of BCE-with-logits against `t` (shaped as the output), in one op:
    /// `(residuals, [1] mean)`, the residuals `sigmoid(z) - t` (shaped as the output) being
    /// what the backward needs of the forward. The loss's gradient is applied inside the
    /// convolution's gradient op (no launch of its own on wgpu), as in
    /// [`KernelBackend::dense_bce_mean`].
    #[fusion(meta = shapes::conv3x3_bce_mean)]
    fn conv3x3_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
        pad: usize,
        up: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::conv3x3_bce_mean`] for the mean's gradient `grad`
    /// (`[1]`), from the residuals `d` it gave: the input's (an empty tensor unless `need_x`),
    /// the weight's and the bias's (empty unless `need_w`). The targets get none.
    #[fusion(meta = shapes::conv3x3_bce_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the convolution's backward"
    )]
    fn conv3x3_bce_mean_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        d: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        pad: usize,
        up: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// A 3x3 transposed convolution of stride 2, padding 1 and output padding 1, with bias,
    /// then `max(., 0)` if `relu`: `x` `[b, c, h, w]`, `weight` `[c, o, 3, 3]`, `bias` `[o]` ->
    /// `[b, o, 2h, 2w]`.
    #[fusion(dtype = x, shape = shapes::up(x, weight))]
    fn conv_transpose3x3s2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// The gradients of [`KernelBackend::conv_transpose3x3s2`] for the output gradient `grad`:
    /// the input's (an empty tensor unless `need_x`), the weight's and the bias's (empty unless
    /// `need_w`). With `relu`, `out` is the op's output, and the gradient passes only where it
    /// is positive; without, `out` is not read.
    #[fusion(meta = shapes::up_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the convolution's backward"
    )]
    fn conv_transpose3x3s2_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        relu: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// A fully connected layer: `x` `[b, n]` times `weight` `[n, o]`, plus `bias` `[o]`, then
    /// `max(., 0)` if `relu`: `[b, o]` (Burn's `Linear`, whose weight is laid out so).
    #[fusion(dtype = x, shape = shapes::linear(x, weight))]
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// The gradients of [`KernelBackend::dense`] for the output gradient `grad`: the input's
    /// (an empty tensor unless `need_x`), the weight's and the bias's (empty unless `need_w`).
    /// With `relu`, `out` is the layer's output, and the gradient passes only where it is
    /// positive; without, `out` is not read.
    #[fusion(meta = shapes::linear_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the convolution's backward"
    )]
    fn dense_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        out: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        relu: bool,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`KernelBackend::dense`] without ReLU, and the mean over all its outputs (logits `z`) of
    /// BCE-with-logits against `t` (`[b, o]`), in one op: `(residuals, [1] mean)`, the
    /// residuals `sigmoid(z) - t` (`[b, o]`) being what the backward needs of the forward (the
    /// loss's gradient at each logit but for the mean's factor). The loss's gradient is applied
    /// inside the layer's gradient op (no launch of its own on wgpu).
    #[fusion(meta = shapes::dense_bce_mean)]
    fn dense_bce_mean(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        t: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::dense_bce_mean`] for the mean's gradient `grad`
    /// (`[1]`), from the residuals `d` it gave: the input's (an empty tensor unless `need_x`),
    /// the weight's and the bias's (empty unless `need_w`). The targets get none.
    #[fusion(meta = shapes::dense_bce_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the convolution's backward"
    )]
    fn dense_bce_mean_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        d: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_x: bool,
        need_w: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The VAE's Gaussian code from the encoder's features `h` (`[b, n]`): the heads
    /// `mu = h wmu + bmu` and `logvar = h wlv + blv` (weights `[n, k]`, biases `[k]`), the draw
    /// `z = mu + exp(logvar / 2) eps` (`eps` `[b, k]`), and the KL divergence of
    /// `N(mu, exp(logvar))` from `N(0, I)` summed over the code and averaged over the rows:
    /// `(z [b, k], heads [b, 2k] (each row's mu, then its logvar), [1] KL)`.
    ///
    /// The KL comes back untracked: its gradient, times `kl_weight[0]` (`[1]`, the KL's factor
    /// in the loss, not read by the forward), reaches the heads through `z`'s backward, so
    /// that the gradient of `loss(z) + kl_weight * KL` is the backward from `loss(z)` alone
    /// (one node, one gradient kernel).
    #[fusion(meta = shapes::gaussian_code)]
    fn gaussian_code(
        h: FloatTensor<Self>,
        wmu: FloatTensor<Self>,
        bmu: FloatTensor<Self>,
        wlv: FloatTensor<Self>,
        blv: FloatTensor<Self>,
        eps: FloatTensor<Self>,
        kl_weight: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::gaussian_code`] for `z`'s gradient `gz` plus
    /// `kl_weight[0]` (`[1]`) times the KL's own: the features' (an empty tensor unless
    /// `need_h`), then the weight's and bias's of the mean's head and of the log-variance's
    /// (empty unless `need_w`). `heads` is what the forward returned.
    #[fusion(meta = shapes::gaussian_grads)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the op's inputs and its flags, as the convolution's backward"
    )]
    #[allow(
        clippy::type_complexity,
        reason = "the five gradients as a tuple, the shape the fusion attribute reads"
    )]
    fn gaussian_code_backward(
        h: FloatTensor<Self>,
        wmu: FloatTensor<Self>,
        wlv: FloatTensor<Self>,
        heads: FloatTensor<Self>,
        eps: FloatTensor<Self>,
        gz: FloatTensor<Self>,
        kl_weight: FloatTensor<Self>,
        need_h: bool,
        need_w: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// Adam's step for up to four parameters at once (`count` of them; the others' slots
    /// hold stand-ins): slot `i` is the parameter `p_i`, its gradient `g_i` and its moments
    /// `m_i`, `v_i`; row `first + i` of `factors` (six numbers a row; one upload for every
    /// launch of a training step) holds slot `i`'s `1 - beta_1`, `1 - beta_2`, bias
    /// correction, epsilon, learning rate, and 1 on its first step (when its moments are
    /// stand-ins, not read) or 0. Burn's Adam's arithmetic ([`adam`]). Returns each slot's
    /// parameter, first and second moment after the step, in slot order (stand-ins past
    /// `count`).
    #[fusion(meta = shapes::adam4)]
    #[allow(
        clippy::too_many_arguments,
        reason = "four parameters' tensors: what makes it one launch for four"
    )]
    #[allow(clippy::type_complexity, reason = "four parameters' results")]
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
    );

    /// [`KernelBackend::adam4`] for up to two parameters (`count` of them, slot 1 a stand-in
    /// when 1): a step's last launch when two or fewer are left, as four slots would give
    /// back six results more, each a tensor to drop.
    #[fusion(meta = shapes::adam2)]
    #[allow(clippy::too_many_arguments, reason = "as adam4's")]
    #[allow(clippy::type_complexity, reason = "two parameters' results")]
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
    );

    /// Binary cross-entropy of `sigmoid(z)` against `t` from the logits, summed over each row:
    /// `z`, `t` `[rows, d]` -> `([rows], kept)`. `kept` is `sigmoid(z) - t` (`[rows, d]`, for
    /// the backward) if `keep` and the backend computes it with the loss from the same
    /// exponentials (flex, ndarray), else an empty tensor. Autodiff keeps it inside its graph
    /// whenever the loss is tracked, whatever `keep` says, and returns an empty one.
    #[fusion(meta = shapes::bce_rows)]
    fn bce_with_logits_rows(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::bce_with_logits_rows`] for the output gradient `grad`
    /// (`[rows]`): the logits', and the targets' (an empty tensor unless `need_t`). `kept` is
    /// what the forward kept (used where it is not empty).
    #[fusion(meta = shapes::bce_grads)]
    fn bce_with_logits_rows_backward(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        kept: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The same loss averaged over every element (the training loss): `z`, `t` `[rows, d]` ->
    /// `([1], kept)`, the sum of [`KernelBackend::bce_with_logits_rows`] divided by
    /// `rows * d`; `keep` and `kept` as there.
    #[fusion(meta = shapes::bce_mean)]
    fn bce_with_logits_mean(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        keep: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradients of [`KernelBackend::bce_with_logits_mean`] for the output gradient `grad`
    /// (`[1]`): the logits', and the targets' (an empty tensor unless `need_t`); `kept` as for
    /// the row sums.
    #[fusion(meta = shapes::bce_grads)]
    fn bce_with_logits_mean_backward(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        kept: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        need_t: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Rows `idx` (`[b]`) of a data set of `c x h x w` samples packed as bytes, `words`
    /// `[n, ceil(d / 4)]` for `d = c h w` (byte `k` of word `w` is value `4 w + k`), as
    /// `[b, c, h, w]` f32 values over 255 (in that shape, so that no reshape follows). No
    /// gradient.
    #[fusion(meta = shapes::unpacked)]
    fn unpack_bytes(
        words: IntTensor<Self>,
        idx: IntTensor<Self>,
        c: usize,
        h: usize,
        w: usize,
    ) -> FloatTensor<Self>;
}
