//! The 3x3 convolution kernel against Burn's `conv2d` on flex and ndarray: outputs, and the
//! gradients of the input, the weight and the bias, for 'same' and 'valid' padding, one to 32
//! channels, odd and even sides, batch 1 and more.

mod common;

use ae_kernels::{conv, conv3x3};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{devices, values};

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// (batch, in channels, out channels, height, width, padding).
const CASES: [(usize, usize, usize, usize, usize, usize); 8] = [
    (1, 1, 1, 3, 3, 0),
    (1, 1, 16, 28, 28, 1),
    (2, 16, 8, 14, 14, 1),
    (3, 8, 8, 7, 7, 1),
    (2, 8, 16, 16, 16, 0),
    (1, 16, 1, 28, 28, 1),
    (2, 3, 5, 5, 9, 1),
    (1, 32, 2, 4, 3, 0),
];

#[test]
fn output_and_all_gradients_match_burn_s_conv2d() {
    for device in devices() {
        let ad = device.clone().autodiff();
        for (b, c, o, h, w, pad) in CASES {
            let what = format!("b{b} {c}->{o} {h}x{w} pad {pad} on {device:?}");
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([b, c, h, w], normal, &ad);
            let k = Tensor::<4>::random([o, c, 3, 3], normal, &ad);
            let bias = Tensor::<1>::random([o], normal, &ad);
            let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
            // A weighted sum, so that every output's gradient differs.
            let mix = Tensor::<4>::random([b, o, oh, ow], normal, &ad);
            let run = |ours: bool| {
                let (x, k, bias) = (
                    x.clone().require_grad(),
                    k.clone().require_grad(),
                    bias.clone().require_grad(),
                );
                let y = if ours {
                    conv3x3(x.clone(), k.clone(), bias.clone(), pad)
                } else {
                    conv::reference(x.clone(), k.clone(), bias.clone(), pad)
                };
                assert_eq!(y.dims(), [b, o, oh, ow], "{what}");
                let g = (y.clone() * mix.clone()).sum().backward();
                (
                    values(y.inner()),
                    values(x.grad(&g).unwrap()),
                    values(k.grad(&g).unwrap()),
                    values(bias.grad(&g).unwrap()),
                )
            };
            let (ours, burn) = (run(true), run(false));
            assert_close(&ours.0, &burn.0, &format!("output {what}"));
            assert_close(&ours.1, &burn.1, &format!("input gradient {what}"));
            assert_close(&ours.2, &burn.2, &format!("weight gradient {what}"));
            assert_close(&ours.3, &burn.3, &format!("bias gradient {what}"));
        }
    }
}

#[test]
fn an_untracked_input_gets_no_gradient_and_the_weights_still_do() {
    let ad = Device::flex().autodiff();
    let x = Tensor::<4>::random([2, 1, 5, 5], Distribution::Default, &ad);
    let k = Tensor::<4>::random([4, 1, 3, 3], Distribution::Default, &ad).require_grad();
    let bias = Tensor::<1>::zeros([4], &ad).require_grad();
    let g = conv3x3(x.clone(), k.clone(), bias.clone(), 1)
        .sum()
        .backward();
    assert!(x.grad(&g).is_none());
    assert_eq!(values(bias.grad(&g).unwrap()), [50.0; 4]);
    assert!(k.grad(&g).is_some());
}
