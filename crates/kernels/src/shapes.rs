//! The output shapes of every op, from its inputs' shapes alone: Burn's fusion registers an
//! op's outputs before it runs (the `#[fusion]` attributes of [`crate::KernelBackend`]). They
//! must be exactly what the op returns, the `[0]` of a gradient not asked for included.

use burn::backend::fusion::custom::TensorSpec;
use burn::tensor::{DType, Shape};

/// `[b, c, h, w]` -> `[b, c, ceil(h/2), ceil(w/2)]`.
pub fn pooled(x: &Shape) -> Shape {
    Shape::new([x[0], x[1], x[2].div_ceil(2), x[3].div_ceil(2)])
}

/// `x` `[b, c, h, w]`, `weight` `[o, c, 3, 3]` -> `[b, o, s h + 2 pad - 2, s w + 2 pad - 2]`,
/// `s` 2 if `up` (the input up-sampled first), else 1.
pub fn conv3x3(x: &Shape, weight: &Shape, pad: &usize, up: &bool) -> Shape {
    let scale = if *up { 2 } else { 1 };
    let side = |s: usize| (s * scale + 2 * pad).saturating_sub(2);
    Shape::new([x[0], weight[0], side(x[2]), side(x[3])])
}

/// `x` `[b, n]`, `weight` `[n, o]` -> `[b, o]`.
pub fn linear(x: &Shape, weight: &Shape) -> Shape {
    Shape::new([x[0], weight[1]])
}

/// `x` `[b, c, h, w]`, `weight` `[c, o, 3, 3]` -> `[b, o, 2h, 2w]`.
pub fn up(x: &Shape, weight: &Shape) -> Shape {
    Shape::new([x[0], weight[1], 2 * x[2], 2 * x[3]])
}

/// The loss's row sums `[rows]` and its kept gradient: `[0]` (the CubeCL backends, which
/// fusion wraps, keep none).
pub fn bce_rows(z: &TensorSpec, _t: &TensorSpec, _keep: &bool) -> (TensorSpec, TensorSpec) {
    (
        TensorSpec::new(Shape::new([z.shape[0]]), z.dtype),
        TensorSpec::new(Shape::new([0]), z.dtype),
    )
}

/// The loss's mean `[1]` and its kept gradient, `[0]` as for the row sums.
pub fn bce_mean(z: &TensorSpec, _t: &TensorSpec, _keep: &bool) -> (TensorSpec, TensorSpec) {
    (
        TensorSpec::new(Shape::new([1]), z.dtype),
        TensorSpec::new(Shape::new([0]), z.dtype),
    )
}

/// What the convolution-and-pool op keeps for its backward on CubeCL, the only backend under
/// fusion (each window's first maximum: shaped as the pooled output), and the convolution's
/// output max-pooled (2x2, rounding up).
pub fn conv3x3_pool(
    x: &TensorSpec,
    weight: &TensorSpec,
    _bias: &TensorSpec,
    pad: &usize,
    _relu: &bool,
    up: &bool,
) -> (TensorSpec, TensorSpec) {
    let pooled = pooled(&conv3x3(&x.shape, &weight.shape, pad, up));
    (
        TensorSpec::new(pooled.clone(), x.dtype),
        TensorSpec::new(pooled, x.dtype),
    )
}

/// `idx` `[b]` -> `[b, c, h, w]` floats (f32, the project's float type).
pub fn unpacked(
    _words: &TensorSpec,
    idx: &TensorSpec,
    c: &usize,
    h: &usize,
    w: &usize,
) -> TensorSpec {
    TensorSpec::new(Shape::new([idx.shape[0], *c, *h, *w]), DType::F32)
}

/// `like`'s shape if `wanted`, else `[0]`.
fn grad(like: &TensorSpec, shape: Shape, wanted: bool) -> TensorSpec {
    let shape = if wanted { shape } else { Shape::new([0]) };
    TensorSpec::new(shape, like.dtype)
}

/// The convolution's gradients: the input's, the weight's and the bias's (`[o]`).
#[allow(clippy::too_many_arguments, reason = "the op's arguments, in order")]
pub fn conv3x3_grads(
    x: &TensorSpec,
    weight: &TensorSpec,
    _out: &TensorSpec,
    _grad: &TensorSpec,
    _pad: &usize,
    _relu: &bool,
    _up: &bool,
    _pool: &bool,
    need_x: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    (
        grad(x, x.shape.clone(), *need_x),
        grad(x, weight.shape.clone(), *need_w),
        grad(x, Shape::new([weight.shape[0]]), *need_w),
    )
}

/// The transposed convolution's gradients: the input's, the weight's and the bias's (`[o]`,
/// the weight being `[c, o, 3, 3]`).
pub fn up_grads(
    x: &TensorSpec,
    weight: &TensorSpec,
    _out: &TensorSpec,
    _grad: &TensorSpec,
    _relu: &bool,
    need_x: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    (
        grad(x, x.shape.clone(), *need_x),
        grad(x, weight.shape.clone(), *need_w),
        grad(x, Shape::new([weight.shape[1]]), *need_w),
    )
}

/// The fully connected layer's gradients: the input's, the weight's and the bias's (`[o]`).
pub fn linear_grads(
    x: &TensorSpec,
    weight: &TensorSpec,
    _out: &TensorSpec,
    _grad: &TensorSpec,
    _relu: &bool,
    need_x: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    (
        grad(x, x.shape.clone(), *need_x),
        grad(x, weight.shape.clone(), *need_w),
        grad(x, Shape::new([weight.shape[1]]), *need_w),
    )
}

/// The convolution's residuals (shaped as its output) and their loss's mean `[1]`.
pub fn conv3x3_bce_mean(
    x: &TensorSpec,
    weight: &TensorSpec,
    _bias: &TensorSpec,
    _t: &TensorSpec,
    pad: &usize,
    up: &bool,
) -> (TensorSpec, TensorSpec) {
    (
        TensorSpec::new(conv3x3(&x.shape, &weight.shape, pad, up), x.dtype),
        TensorSpec::new(Shape::new([1]), x.dtype),
    )
}

/// The convolution-and-loss op's gradients: the input's, the weight's and the bias's.
#[allow(
    clippy::too_many_arguments,
    reason = "the op's arguments, as the fusion attribute passes them"
)]
pub fn conv3x3_bce_grads(
    x: &TensorSpec,
    weight: &TensorSpec,
    d: &TensorSpec,
    grad: &TensorSpec,
    pad: &usize,
    up: &bool,
    need_x: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    conv3x3_grads(x, weight, d, grad, pad, &false, up, &false, need_x, need_w)
}

/// The layer's logits `[b, o]` and their loss's mean `[1]`.
pub fn dense_bce_mean(
    x: &TensorSpec,
    weight: &TensorSpec,
    _bias: &TensorSpec,
    _t: &TensorSpec,
) -> (TensorSpec, TensorSpec) {
    (
        TensorSpec::new(linear(&x.shape, &weight.shape), x.dtype),
        TensorSpec::new(Shape::new([1]), x.dtype),
    )
}

/// The layer-and-loss op's gradients: the input's, the weight's and the bias's.
pub fn dense_bce_grads(
    x: &TensorSpec,
    weight: &TensorSpec,
    d: &TensorSpec,
    grad: &TensorSpec,
    need_x: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    linear_grads(x, weight, d, grad, &false, need_x, need_w)
}

/// The loss's gradients: the logits', and the targets' (`[0]` unless `need_t`).
pub fn bce_grads(
    z: &TensorSpec,
    t: &TensorSpec,
    _kept: &TensorSpec,
    _grad: &TensorSpec,
    need_t: &bool,
) -> (TensorSpec, TensorSpec) {
    (z.clone(), grad(z, t.shape.clone(), *need_t))
}

/// The Gaussian code's draw `[b, k]`, its heads `[b, 2k]` and its KL `[1]`, from the features
/// `h` `[b, n]` and the mean's weight `[n, k]`.
#[allow(clippy::too_many_arguments, reason = "the op's arguments, in order")]
pub fn gaussian_code(
    h: &TensorSpec,
    wmu: &TensorSpec,
    _bmu: &TensorSpec,
    _wlv: &TensorSpec,
    _blv: &TensorSpec,
    _eps: &TensorSpec,
    _kl_weight: &TensorSpec,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let (b, k) = (h.shape[0], wmu.shape[1]);
    (
        TensorSpec::new(Shape::new([b, k]), h.dtype),
        TensorSpec::new(Shape::new([b, 2 * k]), h.dtype),
        TensorSpec::new(Shape::new([1]), h.dtype),
    )
}

/// The Gaussian code's gradients: the features', then each head's weight's and bias's.
#[allow(
    clippy::too_many_arguments,
    reason = "the shapes of the op's inputs and its flags"
)]
pub fn gaussian_grads(
    h: &TensorSpec,
    wmu: &TensorSpec,
    _wlv: &TensorSpec,
    _heads: &TensorSpec,
    _eps: &TensorSpec,
    _gz: &TensorSpec,
    _kl_weight: &TensorSpec,
    need_h: &bool,
    need_w: &bool,
) -> (TensorSpec, TensorSpec, TensorSpec, TensorSpec, TensorSpec) {
    let bias = Shape::new([wmu.shape[1]]);
    (
        grad(h, h.shape.clone(), *need_h),
        grad(h, wmu.shape.clone(), *need_w),
        grad(h, bias.clone(), *need_w),
        grad(h, wmu.shape.clone(), *need_w),
        grad(h, bias, *need_w),
    )
}

/// Adam's step for four parameters: each slot's parameter and moments, shaped as its
/// parameter.
#[allow(clippy::too_many_arguments, reason = "the op's arguments, in order")]
#[allow(clippy::type_complexity, reason = "four parameters' results")]
pub fn adam4(
    p0: &TensorSpec,
    _g0: &TensorSpec,
    _m0: &TensorSpec,
    _v0: &TensorSpec,
    p1: &TensorSpec,
    _g1: &TensorSpec,
    _m1: &TensorSpec,
    _v1: &TensorSpec,
    p2: &TensorSpec,
    _g2: &TensorSpec,
    _m2: &TensorSpec,
    _v2: &TensorSpec,
    p3: &TensorSpec,
    _g3: &TensorSpec,
    _m3: &TensorSpec,
    _v3: &TensorSpec,
    _factors: &TensorSpec,
    _first: &usize,
    _count: &usize,
) -> (
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
) {
    (
        p0.clone(),
        p0.clone(),
        p0.clone(),
        p1.clone(),
        p1.clone(),
        p1.clone(),
        p2.clone(),
        p2.clone(),
        p2.clone(),
        p3.clone(),
        p3.clone(),
        p3.clone(),
    )
}

/// [`adam4`] for two slots.
#[allow(clippy::too_many_arguments, reason = "the op's arguments, in order")]
pub fn adam2(
    p0: &TensorSpec,
    _g0: &TensorSpec,
    _m0: &TensorSpec,
    _v0: &TensorSpec,
    p1: &TensorSpec,
    _g1: &TensorSpec,
    _m1: &TensorSpec,
    _v1: &TensorSpec,
    _factors: &TensorSpec,
    _first: &usize,
    _count: &usize,
) -> (
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
    TensorSpec,
) {
    (
        p0.clone(),
        p0.clone(),
        p0.clone(),
        p1.clone(),
        p1.clone(),
        p1.clone(),
    )
}
