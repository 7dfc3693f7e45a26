//! The public functions: each op through its kernel where the device has one
//! ([`Op::runs_on`]) and the kernels are chosen ([`set_enabled`]), through Burn's layers
//! everywhere else, so that a model can call them on any backend.

use crate::{KernelBackend, bce, pool};
use burn::backend::{CubeDevice, Dispatch, DispatchDevice};
use burn::nn::Linear;
use burn::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

mod buffers;
mod convolutions;

pub use convolutions::*;

/// Whether the public functions use the kernels where they can (the default) or Burn's layers
/// everywhere (`--kernels burn`).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The ops left to Burn's layers even with the kernels chosen ([`set_without`]), one bit each.
static WITHOUT: AtomicU32 = AtomicU32::new(0);

/// Chooses the kernels (`true`, the default) or Burn's layers (`false`) for this process.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Leaves the ops in `ops` to Burn's layers (or, for the grouped Adam, to one step per
/// parameter) for this process, whatever [`set_enabled`] chose for the others: to time one
/// op's kernel against Burn's in the same build. Empty (the default): none.
pub fn set_without(ops: OpSet) {
    WITHOUT.store(ops.0, Ordering::Relaxed);
}

/// The block one unit of the CubeCL kernels that may choose takes ([`set_unit_block`]), or 0:
/// chosen by the device.
static UNIT_BLOCK: AtomicUsize = AtomicUsize::new(0);

/// Fixes, for this process, the block one unit of the CubeCL kernels takes where they may
/// choose: the rows (of the batch, or the weight's columns) of the dense layer's kernels, the
/// channels of the convolution's (output channels forward, input channels in the input
/// gradient's blocks): 1, 2, 4 or 8. `None` (the default) lets the
/// kernels choose by the device. The outputs and gradients are the same to the bit whatever
/// the block (a mean loss's terms are added in another order); to time each choice on one GPU,
/// and to test them all on any device. Another number is refused, with what is allowed.
pub fn set_unit_block(block: Option<usize>) -> Result<(), String> {
    match block {
        None => UNIT_BLOCK.store(0, Ordering::Relaxed),
        Some(r @ (1 | 2 | 4 | 8)) => UNIT_BLOCK.store(r, Ordering::Relaxed),
        Some(r) => return Err(format!("a unit's block is 1, 2, 4 or 8, not {r}")),
    }
    Ok(())
}

/// What [`set_unit_block`] fixed, if anything.
pub(crate) fn unit_block() -> Option<usize> {
    Some(UNIT_BLOCK.load(Ordering::Relaxed)).filter(|&r| r > 0)
}

/// A set of [`Op`]s, written as their names joined by commas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpSet(u32);

impl OpSet {
    /// Whether `op` is in the set.
    pub fn contains(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }

    /// Parses `pool,conv,...` ([`Op::name`]); the empty string is the empty set.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut set = OpSet::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let op = Op::ALL
                .into_iter()
                .find(|op| op.name() == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
                    format!("unknown op '{name}' (ops: {})", names.join(", "))
                })?;
            set.0 |= op.bit();
        }
        Ok(set)
    }
}

impl std::fmt::Display for OpSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = Op::ALL
            .into_iter()
            .filter(|&op| self.contains(op))
            .map(Op::name)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// The ops, for asking where each runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// [`max_pool2x2`].
    MaxPool,
    /// [`conv3x3`].
    Conv,
    /// [`conv_transpose3x3s2`].
    ConvTranspose,
    /// [`bce_with_logits_rows`].
    Bce,
    /// [`unpack_bytes`].
    Unpack,
    /// [`linear`].
    Linear,
    /// [`crate::gaussian::gaussian_code`].
    Gaussian,
    /// Adam's step ([`crate::adam::FusedAdam`]).
    Adam,
    /// Adam's steps four parameters to a launch ([`crate::adam_group::step_module`]).
    AdamGroup,
}

impl Op {
    /// Every op.
    pub const ALL: [Op; 9] = [
        Op::MaxPool,
        Op::Conv,
        Op::ConvTranspose,
        Op::Bce,
        Op::Unpack,
        Op::Linear,
        Op::Gaussian,
        Op::Adam,
        Op::AdamGroup,
    ];

    /// Its name in an [`OpSet`]'s list.
    pub fn name(self) -> &'static str {
        match self {
            Op::MaxPool => "pool",
            Op::Conv => "conv",
            Op::ConvTranspose => "conv-transpose",
            Op::Bce => "bce",
            Op::Unpack => "unpack",
            Op::Linear => "linear",
            Op::Gaussian => "gaussian",
            Op::Adam => "adam",
            Op::AdamGroup => "adam-group",
        }
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Whether this op has a kernel on `device`: every op but the unpacking, the fully
    /// connected layer, the VAE's code and the grouped Adam on flex and ndarray (with or
    /// without autodiff; their data sets stay on the host, where the unpacking is a copy, the
    /// layer there is Burn's matrix product, and Adam steps each parameter in one pass); the
    /// max-pool, the convolution, the transposed convolution, the loss, the layer, the code,
    /// the unpacking and Adam four parameters to a launch on wgpu (CubeCL kernels), each where the device lets one kernel bind its [`Op::buffers`] (on OpenGL,
    /// 16 storage buffers, all but the grouped Adam). Elsewhere the public functions use
    /// Burn's layers.
    pub fn runs_on(self, device: &Device) -> bool {
        match device.as_dispatch().clone().inner() {
            DispatchDevice::Flex(_) | DispatchDevice::NdArray(_) => {
                !matches!(self, Op::Unpack | Op::Linear | Op::Gaussian | Op::AdamGroup)
            }
            DispatchDevice::Cube(cube @ CubeDevice::Wgpu(_)) => {
                matches!(
                    self,
                    Op::MaxPool
                        | Op::Conv
                        | Op::ConvTranspose
                        | Op::Bce
                        | Op::Unpack
                        | Op::Linear
                        | Op::Gaussian
                        | Op::AdamGroup
                ) && buffers::fits(&cube, self.buffers())
            }
            _ => false,
        }
    }

    /// Whether the public function takes the kernel path on `device`: chosen, and there.
    pub fn used_on(self, device: &Device) -> bool {
        ENABLED.load(Ordering::Relaxed)
            && WITHOUT.load(Ordering::Relaxed) & self.bit() == 0
            && self.runs_on(device)
    }
}

/// Whether the four ops of the convolutional nets have a kernel on `device` (flex, ndarray and
/// wgpu, with or without autodiff).
pub fn supported(device: &Device) -> bool {
    [Op::MaxPool, Op::Conv, Op::ConvTranspose, Op::Bce]
        .iter()
        .all(|op| op.runs_on(device))
}

/// Whether the public functions take the kernel path for every op on `device`.
pub fn used_on(device: &Device) -> bool {
    [Op::MaxPool, Op::Conv, Op::ConvTranspose, Op::Bce]
        .iter()
        .all(|op| op.used_on(device))
}

/// `layer` applied to `x` (`[b, n]` -> `[b, o]`), then ReLU if `relu`: one op where
/// [`Op::runs_on`] and the layer has a bias (on wgpu one kernel each way: the backward reads
/// the output for ReLU's mask), else Burn's layer and `relu`.
pub fn linear(x: Tensor<2>, layer: &Linear, relu: bool) -> Tensor<2> {
    if let Some(bias) = &layer.bias
        && Op::Linear.used_on(&x.device())
    {
        return Tensor::from_dispatch(Dispatch::dense(
            x.into_dispatch(),
            layer.weight.val().into_dispatch(),
            bias.val().into_dispatch(),
            relu,
        ));
    }
    let y = layer.forward(x);
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// The mean over every element of the BCE-with-logits of `layer(x)` (the logits, `[b, o]`)
/// against `t` (`[1]`): one op where [`Op::Linear`] and [`Op::Bce`] are used, the layer has a
/// bias and `t` needs no gradient (on wgpu: the logits and the loss's parts in one kernel,
/// their sum in a second; backward one kernel for the input's, weight's and bias's gradients,
/// each unit computing the loss's gradient at its logits again); else Burn's layer and
/// [`bce_with_logits_mean`].
pub fn linear_bce_mean(x: Tensor<2>, layer: &Linear, t: Tensor<2>) -> Tensor<1> {
    let device = x.device();
    if let Some(bias) = &layer.bias
        && Op::Linear.used_on(&device)
        && Op::Bce.used_on(&device)
        && !t.is_require_grad()
    {
        let (_, mean) = Dispatch::dense_bce_mean(
            x.into_dispatch(),
            layer.weight.val().into_dispatch(),
            bias.val().into_dispatch(),
            t.into_dispatch(),
        );
        return Tensor::from_dispatch(mean);
    }
    bce_with_logits_mean(layer.forward(x), t)
}

/// Binary cross-entropy of `sigmoid(z)` against `t`, from the logits, summed over each row
/// (`[rows, d]` -> `[rows]`): the kernel where [`Op::runs_on`], else Burn's element-wise ops.
pub fn bce_with_logits_rows(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    if Op::Bce.used_on(&z.device()) {
        let (loss, _) = Dispatch::bce_with_logits_rows(z.into_dispatch(), t.into_dispatch(), false);
        Tensor::from_dispatch(loss)
    } else {
        bce::reference(z, t)
    }
}

/// The mean of the same loss over every element (`[rows, d]` -> `[1]`): one kernel where
/// [`Op::runs_on`], else Burn's element-wise ops, summed and divided by `rows * d`.
pub fn bce_with_logits_mean(z: Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    if Op::Bce.used_on(&z.device()) {
        let (loss, _) = Dispatch::bce_with_logits_mean(z.into_dispatch(), t.into_dispatch(), false);
        Tensor::from_dispatch(loss)
    } else {
        bce::mean_reference(z, t)
    }
}

/// Rows `idx` of a data set of `[c, h, w]` samples kept on the device as bytes, `words`
/// `[n, ceil(d / 4)]` for `d = c h w` (byte `k` of word `w` is value `4 w + k`), as
/// `[b, c, h, w]` values over 255: one kernel where [`Op::runs_on`], else Burn's gather,
/// shift, mask and division ([`unpack_reference`], with `shifts` from [`byte_shifts`], which a
/// caller unpacking every batch makes once).
pub fn unpack_bytes(
    words: Tensor<2, Int>,
    idx: Tensor<1, Int>,
    [c, h, w]: [usize; 3],
    shifts: Tensor<3, Int>,
) -> Tensor<4> {
    if Op::Unpack.used_on(&words.device()) {
        return Tensor::from_dispatch(Dispatch::unpack_bytes(
            words.into_dispatch(),
            idx.into_dispatch(),
            c,
            h,
            w,
        ));
    }
    let b = idx.dims()[0];
    unpack_reference(words, idx, c * h * w, shifts).reshape([b, c, h, w])
}

/// `[1, 1, 4]`: 0, 8, 16, 24, the shift of each byte of a word, for [`unpack_reference`].
pub fn byte_shifts(device: &Device) -> Tensor<3, Int> {
    Tensor::from_data(TensorData::new(vec![0i32, 8, 16, 24], [1, 1, 4]), device)
}

/// [`unpack_bytes`] from Burn's operations: the rows gathered, all four bytes of every word in
/// one shift and one mask (`shifts`: [`byte_shifts`]), the padding of the last word cut, the
/// division.
pub fn unpack_reference(
    words: Tensor<2, Int>,
    idx: Tensor<1, Int>,
    d: usize,
    shifts: Tensor<3, Int>,
) -> Tensor<2> {
    let words = words.select(0, idx);
    let [b, per] = words.dims();
    words
        .reshape([b, per, 1])
        .expand([b, per, 4])
        .bitwise_right_shift(shifts.expand([b, per, 4]))
        .bitwise_and_scalar(255)
        .reshape([b, per * 4])
        .slice([0..b, 0..d])
        .float()
        .div_scalar(255.0)
}

/// 2x2 max-pooling, stride 2, output size rounded up, NCHW: the kernel where [`Op::runs_on`],
/// else Burn's `MaxPool2d` (ceil mode).
pub fn max_pool2x2(x: Tensor<4>) -> Tensor<4> {
    if Op::MaxPool.used_on(&x.device()) {
        Tensor::from_dispatch(Dispatch::max_pool2x2(x.into_dispatch()))
    } else {
        pool::reference(x)
    }
}
