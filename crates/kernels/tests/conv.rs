//! The 3x3 convolution kernel (alone, with its ReLU, and of its input up-sampled 2x) against
//! Burn's `conv2d` (and `relu`, `interpolate`) on flex and ndarray: outputs, and the gradients
//! of the input, the weight and the bias, for 'same' and 'valid' padding, one to 32 channels,
//! odd and even sides, batch 1 and more.

mod common;

use ae_kernels::{conv, conv3x3, conv3x3_relu, conv3x3_relu_pool, conv3x3_up, pool};
use burn::prelude::*;
use burn::tensor::{Distribution, activation};
use common::{assert_same_output_and_grads, devices, output_and_grads, values};

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
            let mix = Tensor::<4>::random([b, o, oh, ow], normal, &ad);
            let ours = output_and_grads(|x, k, b| conv3x3(x, k, b, pad), [&x, &k], &bias, &mix);
            let burn = output_and_grads(
                |x, k, b| conv::reference(x, k, b, pad),
                [&x, &k],
                &bias,
                &mix,
            );
            assert_same_output_and_grads(ours, burn, &what);
            // With ReLU as part of the op: the gradient passes where the output is positive.
            let ours =
                output_and_grads(|x, k, b| conv3x3_relu(x, k, b, pad), [&x, &k], &bias, &mix);
            let burn = output_and_grads(
                |x, k, b| activation::relu(conv::reference(x, k, b, pad)),
                [&x, &k],
                &bias,
                &mix,
            );
            assert_same_output_and_grads(ours, burn, &format!("{what}, ReLU"));
            // With ReLU and the 2x2 max-pool (rounding up) after it as one op.
            let mix = Tensor::<4>::random([b, o, oh.div_ceil(2), ow.div_ceil(2)], normal, &ad);
            let ours = output_and_grads(
                |x, k, b| conv3x3_relu_pool(x, k, b, pad),
                [&x, &k],
                &bias,
                &mix,
            );
            let burn = output_and_grads(
                |x, k, b| pool::reference(activation::relu(conv::reference(x, k, b, pad))),
                [&x, &k],
                &bias,
                &mix,
            );
            assert_same_output_and_grads(ours, burn, &format!("{what}, ReLU, pooled"));
            // Of the input up-sampled 2x first (the output twice the side), ReLU or not.
            let side = |s: usize| 2 * s + 2 * pad - 2;
            let mix = Tensor::<4>::random([b, o, side(h), side(w)], normal, &ad);
            for relu in [false, true] {
                let ours = output_and_grads(
                    |x, k, b| conv3x3_up(x, k, b, pad, relu),
                    [&x, &k],
                    &bias,
                    &mix,
                );
                let burn = output_and_grads(
                    |x, k, b| {
                        let y = conv::reference(conv::up2x_reference(x), k, b, pad);
                        if relu { activation::relu(y) } else { y }
                    },
                    [&x, &k],
                    &bias,
                    &mix,
                );
                let what = format!("{what}, up-sampled, ReLU: {relu}");
                assert_same_output_and_grads(ours, burn, &what);
            }
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
