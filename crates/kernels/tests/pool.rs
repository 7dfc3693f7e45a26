//! The max-pool kernel against Burn's `MaxPool2d` (ceil mode) on flex and ndarray: outputs and
//! input gradients, on odd and even sides, one to many channels, batch 1 and more.

mod common;

use ae_kernels::{max_pool2x2, pool, supported};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{devices, values};

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

const SHAPES: [[usize; 4]; 6] = [
    [1, 1, 1, 1],
    [1, 3, 5, 7],
    [2, 16, 28, 28],
    [3, 8, 7, 7],
    [1, 32, 4, 9],
    [4, 1, 14, 13],
];

#[test]
fn forward_and_input_gradient_match_burn_s_max_pool() {
    for device in devices() {
        assert!(supported(&device));
        let ad = device.clone().autodiff();
        assert!(supported(&ad));
        for shape in SHAPES {
            // Random values: no ties, so the maximum of every window is unique.
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad);
            let w = Tensor::<4>::random(
                [
                    shape[0],
                    shape[1],
                    shape[2].div_ceil(2),
                    shape[3].div_ceil(2),
                ],
                Distribution::Normal(0.0, 1.0),
                &ad,
            );
            let what = format!("{shape:?} on {device:?}");
            let (xa, xb) = (x.clone().require_grad(), x.require_grad());
            let (ya, yb) = (max_pool2x2(xa.clone()), pool::reference(xb.clone()));
            assert_eq!(ya.dims(), yb.dims(), "{what}");
            assert_close(
                &values(ya.clone().inner()),
                &values(yb.clone().inner()),
                &what,
            );
            // A weighted sum, so every output's gradient differs.
            let ga = (ya * w.clone()).sum().backward();
            let gb = (yb * w).sum().backward();
            assert_close(
                &values(xa.grad(&ga).unwrap()),
                &values(xb.grad(&gb).unwrap()),
                &format!("gradient {what}"),
            );
        }
    }
}

#[test]
fn a_tie_sends_the_gradient_to_the_first_maximum() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::from_data([[[[1.0f32, 1.0], [0.0, 1.0]]]], &device).require_grad();
    let y = max_pool2x2(x.clone());
    let g = y.sum().backward();
    assert_eq!(values(x.grad(&g).unwrap()), [1.0, 0.0, 0.0, 0.0]);
}
