//! Where conv-ae's step goes: each of its layers alone, forward, forward + input gradient,
//! forward + weight gradient, at batch 128, on a backend.
//!
//!     cargo bench --bench conv_layers                  # flex
//!     cargo bench --bench conv_layers -- wgpu 20       # backend, repetitions
//!
//! Prints a Markdown table in milliseconds per call (the mean of the repetitions after one
//! untimed call), with the GFLOP/s of the forward pass.

use autoencoders::backend::{self, BackendChoice};
use burn::nn::interpolate::{Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use std::process::ExitCode;
use std::time::Instant;

/// conv-ae's convolutions: (in channels, out channels, side, padding), encoder then decoder.
const CONVS: [(usize, usize, usize, usize); 7] = [
    (1, 16, 28, 1),
    (16, 8, 14, 1),
    (8, 8, 7, 1),
    (8, 8, 4, 1),
    (8, 8, 8, 1),
    (8, 16, 16, 0),
    (16, 1, 28, 1),
];
const BATCH: usize = 128;

fn time(reps: usize, mut f: impl FnMut() -> TensorData) -> f64 {
    f();
    let started = Instant::now();
    for _ in 0..reps {
        f();
    }
    started.elapsed().as_secs_f64() * 1e3 / reps as f64
}

/// Milliseconds per call of `op(x, w)`: forward alone, then forward and backward to the
/// gradient of `x`, and to that of `w` alone.
fn timed(
    reps: usize,
    [x, w]: [&Tensor<4>; 2],
    op: &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> [f64; 3] {
    let f = time(reps, || op(x.clone(), w.clone()).into_data());
    let grad = |of_x: bool| {
        time(reps, || {
            let (x, w) = if of_x {
                (x.clone().require_grad(), w.clone())
            } else {
                (x.clone(), w.clone().require_grad())
            };
            let g = op(x.clone(), w.clone()).sum().backward();
            gradient(if of_x { x } else { w }, &g)
        })
    };
    [f, grad(true), grad(false)]
}

/// The gradient of `t` read back (an empty one if the graph did not reach it).
fn gradient(t: Tensor<4>, grads: &burn::tensor::Gradients) -> TensorData {
    t.grad(grads)
        .map(|g| g.into_data())
        .unwrap_or_else(|| TensorData::from([0.0f32]))
}

fn run(choice: BackendChoice, reps: usize) -> anyhow::Result<()> {
    let resolved = backend::resolve(choice)?;
    let dev = resolved.device.autodiff();
    println!(
        "{}; batch {BATCH}; ms per call, mean of {reps}\n",
        resolved.note
    );
    println!("| layer | forward | GFLOP/s | + input grad | + weight grad |\n|---|---|---|---|---|");
    let random =
        |shape: [usize; 4]| Tensor::<4>::random(shape, burn::tensor::Distribution::Default, &dev);
    let (mut fwd, mut dx, mut dw) = (0.0, 0.0, 0.0);
    for (c, o, side, pad) in CONVS {
        let opts = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
        let (x, w) = (random([BATCH, c, side, side]), random([o, c, 3, 3]));
        let conv = |x: Tensor<4>, w: Tensor<4>| conv2d(x, w, None, opts.clone());
        let [f, gx, gw] = timed(reps, [&x, &w], &conv);
        let out = side + 2 * pad - 2;
        let gflops = 2.0 * (BATCH * o * out * out * c * 9) as f64 / (f * 1e6);
        println!("| conv {c}->{o} @{side} | {f:.2} | {gflops:.1} | {gx:.2} | {gw:.2} |");
        (fwd, dx, dw) = (fwd + f, dx + gx, dw + gw);
    }
    println!("| all convs | {fwd:.2} | | {dx:.2} | {dw:.2} |\n");

    println!("| layer | forward + input grad |\n|---|---|");
    let pool = MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init();
    let up = Interpolate2dConfig::new()
        .with_scale_factor(Some([2.0, 2.0]))
        .with_mode(InterpolateMode::Nearest)
        .init();
    for (what, c, side) in [
        ("max-pool", 16, 28),
        ("max-pool", 8, 14),
        ("max-pool", 8, 7),
        ("up-sample", 8, 4),
        ("up-sample", 8, 8),
        ("up-sample", 16, 14),
    ] {
        let x = random([BATCH, c, side, side]);
        let ms = time(reps, || {
            let x = x.clone().require_grad();
            let y = if what == "max-pool" {
                pool.forward(x.clone())
            } else {
                up.forward(x.clone())
            };
            gradient(x, &y.sum().backward())
        });
        println!("| {what} {c} @{side} | {ms:.2} |");
    }
    println!(
        "\n| our kernel (ae-kernels) | forward | + input grad | + weight grad |\n|---|---|---|---|"
    );
    for (c, o, side, pad) in CONVS {
        let (x, w) = (random([BATCH, c, side, side]), random([o, c, 3, 3]));
        let bias = Tensor::<1>::zeros([o], &dev);
        let conv = |x: Tensor<4>, w: Tensor<4>| ae_kernels::conv3x3(x, w, bias.clone(), pad);
        let [f, gx, gw] = timed(reps, [&x, &w], &conv);
        let path = if ae_kernels::Op::Conv.runs_on(&dev) {
            "kernel"
        } else {
            "Burn's, no kernel here"
        };
        println!("| conv {c}->{o} @{side} ({path}) | {f:.2} | {gx:.2} | {gw:.2} |");
    }
    println!("\n| our kernel (ae-kernels) | forward + input grad |\n|---|---|");
    for (c, side) in [(16, 28), (8, 14), (8, 7)] {
        let x = random([BATCH, c, side, side]);
        let ms = time(reps, || {
            let x = x.clone().require_grad();
            gradient(x.clone(), &ae_kernels::max_pool2x2(x).sum().backward())
        });
        let path = if ae_kernels::Op::MaxPool.runs_on(&dev) {
            "kernel"
        } else {
            "Burn's, no kernel here"
        };
        println!("| max-pool {c} @{side} ({path}) | {ms:.2} |");
    }
    wide_net_upsampling(&dev, reps);
    Ok(())
}

/// The wide net's (`--arch wide`) transposed convolutions, 32 -> 32 channels, stride 2: Burn's
/// `conv_transpose2d` against our kernel, forward and with each gradient.
fn wide_net_upsampling(dev: &Device, reps: usize) {
    println!(
        "\n| wide net, transposed conv | forward | + input grad | + weight grad |\n|---|---|---|---|"
    );
    let random =
        |shape: [usize; 4]| Tensor::<4>::random(shape, burn::tensor::Distribution::Default, dev);
    for side in [7, 14] {
        let (x, w) = (random([BATCH, 32, side, side]), random([32, 32, 3, 3]));
        let bias = Tensor::<1>::zeros([32], dev);
        type Up<'a> = &'a dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>;
        let burn: Up = &|x, w| ae_kernels::conv_transpose::reference(x, w, bias.clone());
        let ours: Up = &|x, w| ae_kernels::conv_transpose3x3s2(x, w, bias.clone());
        let kernel = if ae_kernels::Op::ConvTranspose.runs_on(dev) {
            "ours"
        } else {
            "ours (Burn's: no kernel here)"
        };
        for (who, up) in [("Burn's", burn), (kernel, ours)] {
            let [f, gx, gw] = timed(reps, [&x, &w], up);
            println!(
                "| {who} @{side} -> {} | {f:.2} | {gx:.2} | {gw:.2} |",
                2 * side
            );
        }
    }
}

fn main() -> ExitCode {
    autoencoders::tune_allocator();
    autoencoders::flush_subnormals();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: cargo bench --bench conv_layers -- [BACKEND [REPETITIONS]]");
        return ExitCode::SUCCESS;
    }
    let parsed = (|| -> anyhow::Result<(BackendChoice, usize)> {
        let choice = BackendChoice::parse(args.first().map_or("flex", |s| s.as_str()))?;
        let reps = match args.get(1) {
            Some(r) => r
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| anyhow::anyhow!("repetitions must be above 0, not '{r}'"))?,
            None => 10,
        };
        Ok((choice, reps))
    })();
    match parsed.and_then(|(choice, reps)| run(choice, reps)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => autoencoders::report_error(&e),
    }
}
