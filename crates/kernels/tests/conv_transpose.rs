//! The stride-2 transposed convolution kernel against Burn's `conv_transpose2d` (and `relu`)
//! on flex, ndarray and wgpu (outputs and the input, weight and bias gradients; one to 32
//! channels, odd and even sides, batch 1 and more, weight sums split into parts on wgpu), and
//! its loops on every instruction set against the definition written out in f64.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).

mod common;

use ae_kernels::conv_transpose::{self, UpDims};
use ae_kernels::{conv_transpose3x3s2, conv_transpose3x3s2_relu, simd::Isa};
use burn::prelude::*;
use burn::tensor::{Distribution, activation};
use common::ops::on_grid;
use common::{
    all_devices, assert_close, assert_same_output_and_grads, numbers, output_and_grads, values,
};

/// (batch, in channels, out channels, height, width): blocks of four output planes and
/// remainders, rows shorter and longer than a vector, one-pixel images, and (the last) more
/// input positions (24 x 14 x 14) than one cube of the wgpu kernel sums, so that each weight's
/// sum is split into parts that a second launch adds.
const CASES: [(usize, usize, usize, usize, usize); 9] = [
    (1, 1, 1, 1, 1),
    (2, 32, 32, 7, 7),
    (1, 32, 32, 14, 14),
    (3, 8, 5, 5, 9),
    (1, 1, 16, 4, 4),
    (2, 16, 1, 11, 13),
    (1, 3, 6, 2, 17),
    (1, 5, 4, 9, 1),
    (24, 8, 8, 14, 14),
];

#[test]
fn output_and_all_gradients_match_burn_s_conv_transpose2d() {
    for device in all_devices() {
        let ad = device.clone().autodiff();
        for (b, c, o, h, w) in CASES {
            let what = format!("b{b} {c}->{o} {h}x{w} on {device:?}");
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([b, c, h, w], normal, &ad);
            let k = Tensor::<4>::random([c, o, 3, 3], normal, &ad);
            let bias = Tensor::<1>::random([o], normal, &ad);
            let mix = Tensor::<4>::random([b, o, 2 * h, 2 * w], normal, &ad);
            let ours = output_and_grads(conv_transpose3x3s2, [&x, &k], &bias, &mix);
            let burn = output_and_grads(conv_transpose::reference, [&x, &k], &bias, &mix);
            assert_same_output_and_grads(ours, burn, &what);
            // With ReLU as part of the op: the gradient passes where the output is positive.
            // On inputs of `on_grid`'s grid every output is exact (zeros included), so ReLU
            // cuts the same outputs on both sides.
            let [x, k] = [x, k].map(on_grid);
            let bias = on_grid(bias);
            let ours = output_and_grads(conv_transpose3x3s2_relu, [&x, &k], &bias, &mix);
            let burn = output_and_grads(
                |x, k, b| activation::relu(conv_transpose::reference(x, k, b)),
                [&x, &k],
                &bias,
                &mix,
            );
            assert_same_output_and_grads(ours, burn, &format!("{what}, ReLU"));
        }
    }
}

#[test]
fn an_untracked_input_gets_no_gradient_and_the_weights_still_do() {
    let ad = Device::flex().autodiff();
    let x = Tensor::<4>::random([2, 1, 5, 5], Distribution::Default, &ad);
    let k = Tensor::<4>::random([1, 4, 3, 3], Distribution::Default, &ad).require_grad();
    let bias = Tensor::<1>::zeros([4], &ad).require_grad();
    let g = conv_transpose3x3s2(x.clone(), k.clone(), bias.clone())
        .sum()
        .backward();
    assert!(x.grad(&g).is_none());
    // Every one of the 2 x 10 x 10 outputs of each plane adds 1 to its bias's gradient.
    assert_eq!(values(bias.grad(&g).unwrap()), [200.0; 4]);
    assert!(k.grad(&g).is_some());
}

/// Output, input gradient, weight gradient and bias gradient by PyTorch's definition:
/// `y[b, o, 2 iy - 1 + ky, 2 ix - 1 + kx] += x[b, c, iy, ix] k[c, o, ky, kx]`, the outputs
/// outside `2h x 2w` dropped.
fn plain(x: &[f32], k: &[f32], bias: &[f32], g: &[f32], d: UpDims) -> [Vec<f64>; 4] {
    let (oh, ow) = (2 * d.h, 2 * d.w);
    let at = |b: usize, o: usize, y: usize, x: usize| ((b * d.o + o) * oh + y) * ow + x;
    let mut y: Vec<f64> = (0..d.b * d.o * oh * ow)
        .map(|i| f64::from(bias[i / (oh * ow) % d.o]))
        .collect();
    let mut gx = vec![0.0; x.len()];
    let mut gk = vec![0.0; k.len()];
    let mut gb = vec![0.0; d.o];
    for (i, &gv) in g.iter().enumerate() {
        gb[i / (oh * ow) % d.o] += f64::from(gv);
    }
    for b in 0..d.b {
        for c in 0..d.c {
            for iy in 0..d.h {
                for ix in 0..d.w {
                    let xi = ((b * d.c + c) * d.h + iy) * d.w + ix;
                    for o in 0..d.o {
                        for tap in 0..9 {
                            let (oy, ox) = (2 * iy + tap / 3, 2 * ix + tap % 3);
                            if oy == 0 || ox == 0 || oy > oh || ox > ow {
                                continue;
                            }
                            let yi = at(b, o, oy - 1, ox - 1);
                            let ki = (c * d.o + o) * 9 + tap;
                            y[yi] += f64::from(x[xi]) * f64::from(k[ki]);
                            gx[xi] += f64::from(g[yi]) * f64::from(k[ki]);
                            gk[ki] += f64::from(g[yi]) * f64::from(x[xi]);
                        }
                    }
                }
            }
        }
    }
    [y, gx, gk, gb]
}

#[test]
fn the_transposed_convolution_matches_its_definition_on_every_instruction_set() {
    for (seed, (b, c, o, h, w)) in CASES.into_iter().enumerate() {
        let d = UpDims { b, c, o, h, w };
        let seed = seed as u64 * 4;
        let x = numbers(b * c * h * w, seed);
        let k = numbers(c * o * 9, seed + 1);
        let bias = numbers(o, seed + 2);
        let g = numbers(b * o * 4 * h * w, seed + 3);
        let plain = plain(&x, &k, &bias, &g, d).map(|v| v.iter().map(|&v| v as f32).collect());
        let [y, gx, gk, gb]: [Vec<f32>; 4] = plain;
        for isa in Isa::available() {
            let what = format!("{d:?} on {isa:?}");
            let out = conv_transpose::forward_with(isa, &x, &k, &bias, d);
            assert_close(&out, &y, &format!("output {what}"));
            let (ogx, ogw) = conv_transpose::backward_with(isa, &x, &k, &g, d, true, true);
            let (ogk, ogb) = ogw.expect("asked for");
            assert_close(
                &ogx.expect("asked for"),
                &gx,
                &format!("input gradient {what}"),
            );
            assert_close(&ogk, &gk, &format!("weight gradient {what}"));
            assert_close(&ogb, &gb, &format!("bias gradient {what}"));
        }
    }
}

#[test]
fn empty_sizes_give_empty_or_bias_only_outputs_without_a_panic() {
    for isa in Isa::available() {
        for (b, c, o, h, w) in [
            (0, 2, 3, 4, 4),
            (2, 0, 3, 4, 4),
            (2, 2, 0, 4, 4),
            (1, 2, 3, 0, 5),
        ] {
            let d = UpDims { b, c, o, h, w };
            let x = numbers(b * c * h * w, 1);
            let k = numbers(c * o * 9, 2);
            let bias = vec![0.5; o];
            let y = conv_transpose::forward_with(isa, &x, &k, &bias, d);
            assert_eq!(y.len(), b * o * 4 * h * w);
            assert!(
                y.iter().all(|&v| v == 0.5),
                "{d:?}: with no inputs, the bias"
            );
            let g = numbers(y.len(), 3);
            let (gx, gw) = conv_transpose::backward_with(isa, &x, &k, &g, d, true, true);
            assert_eq!(gx.expect("asked for").len(), x.len());
            let (gk, gb) = gw.expect("asked for");
            assert_eq!((gk.len(), gb.len()), (k.len(), o));
        }
    }
}
