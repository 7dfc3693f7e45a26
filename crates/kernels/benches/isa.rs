//! The host loops alone (no Burn tensors around them), compiled for each instruction set this
//! CPU runs: conv-ae's larger convolutions at batch 128 and the loss at dense-ae's batch 256.
//!
//!     cargo bench --bench isa
//!
//! Prints milliseconds per call: the median of 31 timed calls after one untimed call (the
//! median, because the machines this runs on are shared and a mean takes in their noise).

use ae_kernels::conv::{self, Dims};
use ae_kernels::{bce, simd::Isa};
use std::hint::black_box;
use std::time::Instant;

fn ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..31)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    println!(
        "| op | instruction set | forward | input grad | weight grad |\n|---|---|---|---|---|"
    );
    for (c, o, side, pad) in [
        (1, 16, 28, 1),
        (16, 8, 14, 1),
        (8, 16, 16, 0),
        (16, 1, 28, 1),
    ] {
        let d = Dims {
            b: 128,
            c,
            o,
            h: side,
            w: side,
            pad,
        };
        let x: Vec<f32> = (0..128 * c * side * side)
            .map(|i| (i % 7) as f32 * 0.1)
            .collect();
        let k: Vec<f32> = (0..o * c * 9).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
        let bias = vec![0.1f32; o];
        let g: Vec<f32> = (0..128 * o * d.oh() * d.ow())
            .map(|i| (i % 3) as f32 * 0.1)
            .collect();
        for isa in Isa::available() {
            let f = ms(|| drop(black_box(conv::forward_with(isa, &x, &k, &bias, d))));
            let gx = ms(|| drop(black_box(conv::input_grad_with(isa, &g, &k, d))));
            let gw = ms(|| drop(black_box(conv::weight_grad_with(isa, &x, &g, d))));
            println!("| conv {c}->{o} @{side} | {isa:?} | {f:.2} | {gx:.2} | {gw:.2} |");
        }
    }
    let z: Vec<f32> = (0..256 * 784)
        .map(|i| (i % 97) as f32 * 0.3 - 14.0)
        .collect();
    let t: Vec<f32> = (0..256 * 784).map(|i| (i % 13) as f32 / 13.0).collect();
    let g = vec![1.0f32; 256];
    for isa in Isa::available() {
        let f = ms(|| drop(black_box(bce::forward_with(isa, &z, &t, 784))));
        let b = ms(|| drop(black_box(bce::backward_with(isa, &z, &t, &g, 784, false))));
        println!("| BCE 256x784 | {isa:?} | {f:.3} | {b:.3} (logits) | |");
    }
}
