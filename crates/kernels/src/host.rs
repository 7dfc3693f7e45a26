//! The kernels on a CPU backend: its tensors read as host slices (borrowed where the backend
//! allows: flex; copied on ndarray), the loops of [`crate::pool`], [`crate::conv`] and
//! [`crate::bce`] run, and the results written back as tensors of the same backend.

use crate::bce;
use crate::conv::{self, Dims};
use crate::conv_transpose::{self, UpDims};
use crate::pool;
use crate::simd::Isa;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Flex, NdArray, Scalar, TensorMetadata};
use burn::tensor::{DType, Shape, TensorData};
use std::borrow::Cow;

/// A CPU backend whose tensors the host loops read.
pub trait Host: Backend {
    /// The f32 values of `t`, in order: borrowed where the tensor's own buffer holds them so.
    fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        Cow::Owned(read::<Self>(t.clone()).0)
    }

    /// The f32 values of `t`, in order, to change in place: only where the tensor's buffer
    /// is its alone and holds them so (flex); else `None`, and the caller writes a new tensor.
    fn values_mut(t: &mut FloatTensor<Self>) -> Option<&mut [f32]> {
        let _ = t;
        None
    }
}

/// Flex lends its buffer when the tensor is contiguous f32 from its start: the copy a read
/// makes of a tensor the graph also keeps (most of them) was a fifth of a conv-ae step.
impl Host for Flex {
    fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
        match t.as_slice::<f32>() {
            Some(values) => Cow::Borrowed(values),
            None => Cow::Owned(read::<Self>(t.clone()).0),
        }
    }

    fn values_mut(t: &mut FloatTensor<Self>) -> Option<&mut [f32]> {
        let (start, end) = t.layout().contiguous_offsets()?;
        if t.dtype() != DType::F32 {
            return None;
        }
        t.try_storage_mut::<f32>().map(|all| &mut all[start..end])
    }
}

impl Host for NdArray {}

/// A tensor's values (f32) and shape.
fn read<B: Backend>(t: FloatTensor<B>) -> (Vec<f32>, Vec<usize>) {
    let shape = t.shape().to_vec();
    let data = futures_lite::future::block_on(B::float_into_data(t))
        .expect("a CPU backend's tensor reads back");
    let values = data
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values after the conversion");
    (values, shape)
}

pub(crate) fn write<B: Backend>(
    values: Vec<f32>,
    shape: Vec<usize>,
    device: &B::Device,
) -> FloatTensor<B> {
    B::float_from_data(TensorData::new(values, Shape::from(shape)), device)
}

/// 2x2 max-pooling on the host.
pub fn max_pool2x2<B: Host>(x: FloatTensor<B>) -> FloatTensor<B> {
    let device = x.device();
    let (values, shape) = (B::values(&x), x.shape().to_vec());
    let (out, out_shape) = pool::forward_host(&values, &shape);
    write::<B>(out, out_shape, &device)
}

/// Its input gradient on the host.
pub fn max_pool2x2_backward<B: Host>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let device = x.device();
    let (xv, shape) = (B::values(&x), x.shape().to_vec());
    let gv = B::values(&grad);
    let (out, out_shape) = pool::backward_host(&xv, &shape, &gv);
    write::<B>(out, out_shape, &device)
}

/// The convolution's sizes for input `x` and `weight`; if `up`, of `x` up-sampled 2x.
fn dims(x: &[usize], weight: &[usize], pad: usize, up: bool) -> Dims {
    let [b, c, h, w] = x.try_into().expect("a 4-D input");
    let s = if up { 2 } else { 1 };
    Dims {
        b,
        c,
        o: weight[0],
        h: s * h,
        w: s * w,
        pad,
    }
}

/// A 3x3 convolution on the host, of `x` up-sampled 2x if `up` (on the way: the large image
/// is never stored), then ReLU if `relu` (in the same pass).
pub fn conv3x3<B: Host>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    pad: usize,
    relu: bool,
    up: bool,
) -> FloatTensor<B> {
    let device = x.device();
    let (xv, xs) = (B::values(&x), x.shape().to_vec());
    let (wv, ws) = (B::values(&weight), weight.shape().to_vec());
    let bv = B::values(&bias);
    let d = dims(&xs, &ws, pad, up);
    write::<B>(
        conv::forward_relu_with(Isa::best(), &xv, &wv, &bv, d, relu, up),
        vec![d.b, d.o, d.oh(), d.ow()],
        &device,
    )
}

/// What came with a convolution in one op, as its backward needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Fused {
    /// Padding on every side (0 or 1).
    pub pad: usize,
    /// The input was up-sampled 2x first.
    pub up: bool,
    /// ReLU came after the convolution.
    pub relu: bool,
    /// The 2x2 max-pool (rounding up) came after that.
    pub pool: bool,
}

/// Its gradients on the host: input (empty unless `need_x`), weight and bias (empty unless
/// `need_w`), from `grad`, the gradient of the op's result (after ReLU and the pool, as
/// `fused` says), and `out`, the convolution's output (after ReLU if `fused.relu`).
pub fn conv3x3_backward<B: Host>(
    [x, weight, out, grad]: [FloatTensor<B>; 4],
    fused: Fused,
    need_x: bool,
    need_w: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let out_v = (fused.relu || fused.pool).then(|| B::values(&out));
    let run = |xv: &[f32], wv: &[f32], gv: &[f32], xs: &[usize], ws: &[usize]| {
        let d = dims(xs, ws, fused.pad, fused.up);
        let grad = match out_v.as_deref() {
            Some(out) if fused.pool => conv::OutGrad::Pooled {
                grad: gv,
                out,
                relu: fused.relu,
            },
            Some(out) => conv::OutGrad::Relu { grad: gv, out },
            None => conv::OutGrad::Plain(gv),
        };
        let need = [need_x, need_w];
        conv::backward_fused_with(Isa::best(), xv, wv, grad, d, fused.up, need)
    };
    backward_on_host::<B>(x, weight, grad, need_w, 0, run)
}

/// A convolution's backward on the host: `run` gets the input's values (only if `need_w`: the
/// weight gradient is the one that reads them), the weight's, the output gradient's, and the
/// input's and weight's shapes; its gradients come back as tensors (the bias's `o` is the
/// weight's dimension `o_at`), empty tensors for those not computed.
fn backward_on_host<B: Host>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    need_w: bool,
    o_at: usize,
    run: impl FnOnce(&[f32], &[f32], &[f32], &[usize], &[usize]) -> conv::Grads,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let device = x.device();
    let empty = || write::<B>(Vec::new(), vec![0], &device);
    let (xs, ws) = (x.shape().to_vec(), weight.shape().to_vec());
    let (wv, gv) = (B::values(&weight), B::values(&grad));
    let xv = if need_w {
        B::values(&x)
    } else {
        Cow::Borrowed(&[][..])
    };
    let (gx, gwb) = run(&xv, &wv, &gv, &xs, &ws);
    let gx = gx.map_or_else(empty, |gx| write::<B>(gx, xs, &device));
    match gwb {
        Some((gw, gb)) => {
            let o = ws[o_at];
            (
                gx,
                write::<B>(gw, ws, &device),
                write::<B>(gb, vec![o], &device),
            )
        }
        None => (gx, empty(), empty()),
    }
}

fn up_dims(x: &[usize], weight: &[usize]) -> UpDims {
    let [b, c, h, w] = x.try_into().expect("a 4-D input");
    UpDims {
        b,
        c,
        o: weight[1],
        h,
        w,
    }
}

/// A 3x3 transposed convolution of stride 2 on the host, then ReLU if `relu` (Burn's).
pub fn conv_transpose3x3s2<B: Host>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let device = x.device();
    let (xv, xs) = (B::values(&x), x.shape().to_vec());
    let (wv, ws) = (B::values(&weight), weight.shape().to_vec());
    let bv = B::values(&bias);
    let d = up_dims(&xs, &ws);
    let y = conv_transpose::forward(&xv, &wv, &bv, d);
    let y = write::<B>(y, vec![d.b, d.o, 2 * d.h, 2 * d.w], &device);
    if relu { B::relu(y) } else { y }
}

/// Its gradients on the host: input (empty unless `need_x`), weight and bias (empty unless
/// `need_w`), from `grad`, the gradient of the op's result, and, if `relu`, `out`, that
/// result (the gradient passes where it is positive: Burn's `relu_backward`, then our loops).
pub fn conv_transpose3x3s2_backward<B: Host>(
    [x, weight, out, grad]: [FloatTensor<B>; 4],
    relu: bool,
    need_x: bool,
    need_w: bool,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let grad = if relu {
        B::relu_backward(out, grad)
    } else {
        grad
    };
    let run = |xv: &[f32], wv: &[f32], gv: &[f32], xs: &[usize], ws: &[usize]| {
        let d = up_dims(xs, ws);
        conv_transpose::backward_with(Isa::best(), xv, wv, gv, d, need_x, need_w)
    };
    backward_on_host::<B>(x, weight, grad, need_w, 1, run)
}

/// Per-row BCE-with-logits sums on the host, and, if `keep`, `sigmoid(z) - t` (else an empty
/// tensor).
pub fn bce_rows<B: Host>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
    keep: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let device = z.device();
    let (zv, zs) = (B::values(&z), z.shape().to_vec());
    let tv = B::values(&t);
    let d = zs.get(1).copied().unwrap_or(0);
    let (sums, kept, kept_shape) = if keep {
        let (sums, kept) = bce::forward_keep(&zv, &tv, d);
        (sums, kept, zs.clone())
    } else {
        (bce::forward(&zv, &tv, d), Vec::new(), vec![0])
    };
    (
        write::<B>(sums, vec![zs[0]], &device),
        write::<B>(kept, kept_shape, &device),
    )
}

/// The gathered, unpacked rows on the host ([`crate::unpack_bytes`]).
pub fn unpack_bytes<B: Backend>(
    words: IntTensor<B>,
    idx: IntTensor<B>,
    [c, h, w]: [usize; 3],
) -> FloatTensor<B> {
    let device = words.device();
    let d = c * h * w;
    let per = words.shape()[1];
    let ints = |t: IntTensor<B>| {
        futures_lite::future::block_on(B::int_into_data(t))
            .expect("a CPU backend's tensor reads back")
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64 values after the conversion")
    };
    let (words, idx) = (ints(words), ints(idx));
    let mut out = Vec::with_capacity(idx.len() * d);
    for &row in &idx {
        let start = usize::try_from(row)
            .unwrap_or(usize::MAX)
            .saturating_mul(per);
        for j in 0..d {
            let word = words.get(start.saturating_add(j / 4)).copied().unwrap_or(0);
            out.push(((word as u32 >> (j % 4 * 8)) & 255) as f32 / 255.0);
        }
    }
    write::<B>(out, vec![idx.len(), c, h, w], &device)
}

/// The loss's mean over every element on the host: the row sums, then Burn's sum and division
/// (as the training loss was computed before it had an op of its own).
pub fn bce_mean<B: Host>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
    keep: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let n = z.shape().num_elements().max(1);
    let (sums, kept) = bce_rows::<B>(z, t, keep);
    let mean = B::float_div_scalar(B::float_sum(sums), Scalar::from(n as f32));
    (mean, kept)
}

/// [`bce_mean`] of `z` `[b, ...]` against `t` (shaped alike), each image a row, with the
/// residuals `sigmoid(z) - t` shaped as `z`: `(mean, residuals)`.
pub fn bce_mean_images<B: Host>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let shape = z.shape();
    let rows = shape[0];
    let rows_shape = Shape::new([rows, shape.num_elements() / rows.max(1)]);
    let (z, t) = (
        B::float_reshape(z, rows_shape.clone()),
        B::float_reshape(t, rows_shape),
    );
    let (mean, kept) = bce_mean::<B>(z, t, true);
    (mean, B::float_reshape(kept, shape))
}

/// The logits' gradient of a layer fused with [`bce_mean`]: its residuals `d` times the mean's
/// gradient `grad` (`[1]`) over their count.
pub fn residual_grad<B: Host>(d: FloatTensor<B>, grad: &FloatTensor<B>) -> FloatTensor<B> {
    let n = d.shape().num_elements().max(1);
    let g = B::values(grad).first().copied().unwrap_or(0.0) / n as f32;
    B::float_mul_scalar(d, Scalar::from(g))
}

/// Its gradients on the host: every row's gradient is `grad / (rows * d)`.
pub fn bce_mean_backward<B: Host>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
    kept: FloatTensor<B>,
    grad: FloatTensor<B>,
    need_t: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let device = z.device();
    let n = z.shape().num_elements().max(1);
    let rows = z.shape()[0];
    let g = B::values(&grad).first().copied().unwrap_or(0.0) / n as f32;
    let grad = write::<B>(vec![g; rows], vec![rows], &device);
    bce_rows_backward::<B>(z, t, kept, grad, need_t)
}

/// Their gradients on the host: the logits' and (if `need_t`) the targets'. The logits' from
/// `kept` where the forward kept it (and the targets' are not wanted), else from `z` and `t`.
pub fn bce_rows_backward<B: Host>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
    kept: FloatTensor<B>,
    grad: FloatTensor<B>,
    need_t: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let device = z.device();
    let zs = z.shape().to_vec();
    let gv = B::values(&grad);
    let d = zs.get(1).copied().unwrap_or(0);
    if !need_t && kept.shape().num_elements() == z.shape().num_elements() {
        let gz = bce::backward_kept(&B::values(&kept), &gv, d);
        return (
            write::<B>(gz, zs, &device),
            write::<B>(Vec::new(), vec![0], &device),
        );
    }
    let (zv, tv) = (B::values(&z), B::values(&t));
    let (gz, gt) = bce::backward(&zv, &tv, &gv, d, need_t);
    let gt_shape = if need_t { zs.clone() } else { vec![0] };
    (
        write::<B>(gz, zs, &device),
        write::<B>(gt, gt_shape, &device),
    )
}
