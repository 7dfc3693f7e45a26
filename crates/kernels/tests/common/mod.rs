//! Shared by the kernel tests: the backends the kernels run on, tensors read back,
//! repeatable numbers, and a convolution's output and gradients against its reference's.

#![allow(
    deprecated,
    reason = "ndarray is tested as one of the project's CPU backends"
)]
#![allow(dead_code, reason = "each test file uses the part it needs")]

use burn::prelude::*;

pub mod ops;

/// The devices the kernels run on.
pub fn devices() -> [Device; 2] {
    [Device::flex(), Device::ndarray()]
}

/// flex, ndarray, and wgpu unless this run's backend list leaves it out.
pub fn all_devices() -> Vec<Device> {
    let mut all = devices().to_vec();
    match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) if !list.split(',').any(|b| b.trim() == "wgpu") => {
            eprintln!("NOTE: the op on wgpu left out: not in AE_TEST_BACKENDS ({list})");
        }
        _ => all.push(Device::wgpu(DeviceKind::DefaultDevice)),
    }
    all
}

/// A tensor's values as f32.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// A repeatable spread of `n` values in [-1, 1).
pub fn numbers(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// `a` against `b` to 1e-4 of `b`'s largest magnitude (at least 1).
pub fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// A layer `op(x, k, bias)` (a convolution, rank 4, or the dense layer, rank 2) on autodiff
/// tensors: its output and the gradients of `x`, `k` and `bias` of the output's sum weighted
/// by `mix` (so that every output's gradient differs).
pub fn output_and_grads<const D: usize>(
    op: impl Fn(Tensor<D>, Tensor<D>, Tensor<1>) -> Tensor<D>,
    [x, k]: [&Tensor<D>; 2],
    bias: &Tensor<1>,
    mix: &Tensor<D>,
) -> [Vec<f32>; 4] {
    let (x, k, bias) = (
        x.clone().require_grad(),
        k.clone().require_grad(),
        bias.clone().require_grad(),
    );
    let y = op(x.clone(), k.clone(), bias.clone());
    assert_eq!(y.dims(), mix.dims(), "output shape");
    let g = (y.clone() * mix.clone()).sum().backward();
    [
        values(y.inner()),
        values(x.grad(&g).unwrap()),
        values(k.grad(&g).unwrap()),
        values(bias.grad(&g).unwrap()),
    ]
}

/// Ours against the reference's output and gradients, [`output_and_grads`] of each.
pub fn assert_same_output_and_grads(ours: [Vec<f32>; 4], reference: [Vec<f32>; 4], what: &str) {
    let names = [
        "output",
        "input gradient",
        "weight gradient",
        "bias gradient",
    ];
    for ((a, b), name) in ours.iter().zip(&reference).zip(names) {
        assert_close(a, b, &format!("{name} {what}"));
    }
}

/// The unpacking of a byte-packed data set ([`ae_kernels::KernelBackend::unpack_bytes`]) on
/// `device` against Burn's operations ([`ae_kernels::unpack_reference`]) and against the bytes
/// themselves: `[3, 1, 3]` samples, 9 values a row (the last word a quarter used), rows picked
/// out of order, one twice, bytes over 127 in every position of a word.
pub fn assert_unpacking_matches(device: &Device) {
    use ae_kernels::KernelBackend;
    use burn::backend::Dispatch;
    let ([c, h, w], n) = ([3usize, 1, 3], 5usize);
    let (d, per) = (c * h * w, (c * h * w).div_ceil(4));
    let bytes: Vec<u8> = (0..n * per * 4).map(|i| (i * 37 + 200) as u8).collect();
    let words: Vec<i32> = bytes
        .chunks(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let words = Tensor::<2, Int>::from_data(TensorData::new(words, [n, per]), device);
    let rows = [3usize, 0, 4, 3];
    let idx = Tensor::<1, Int>::from_data(
        TensorData::new(rows.iter().map(|&r| r as i32).collect::<Vec<_>>(), [4]),
        device,
    );
    let ours = Tensor::<4>::from_dispatch(Dispatch::unpack_bytes(
        words.clone().into_dispatch(),
        idx.clone().into_dispatch(),
        c,
        h,
        w,
    ));
    let shifts = ae_kernels::byte_shifts(device);
    let burn = ae_kernels::unpack_reference(words, idx, d, shifts);
    let bytes = &bytes;
    let want: Vec<f32> = rows
        .iter()
        .flat_map(|&r| (0..d).map(move |j| bytes[r * per * 4 + j] as f32 / 255.0))
        .collect();
    assert_eq!(ours.dims(), [4, c, h, w], "shape on {device:?}");
    assert_eq!(values(ours), want, "unpacked on {device:?}");
    assert_eq!(values(burn), want, "Burn's operations on {device:?}");
}
