//! The host loops compiled for every instruction set this CPU runs (the portable build and,
//! where the CPU has them, AVX2 with FMA and AVX-512) against plain loops written here in f64: the 3x3
//! convolution's output, input gradient and weight and bias gradients, and the BCE loss and
//! its gradient. The tests against Burn's layers run whichever set the CPU picks; these make
//! sure the other one is right too.

use ae_kernels::conv::{self, Dims};
use ae_kernels::{bce, simd::Isa};
use common::numbers;

mod common;

fn assert_close(ours: &[f32], plain: &[f64], what: &str) {
    assert_eq!(ours.len(), plain.len(), "{what}: lengths");
    let scale = plain.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (&x, &y)) in ours.iter().zip(plain).enumerate() {
        assert!(
            (f64::from(x) - y).abs() <= 1e-5 * scale,
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

/// The input framed with `pad` zeros, read at `(b, c, y, x)` of the framed plane.
fn framed(x: &[f32], d: Dims, b: usize, c: usize, y: usize, xx: usize) -> f64 {
    let (y, xx) = (y as isize - d.pad as isize, xx as isize - d.pad as isize);
    if y < 0 || xx < 0 || y >= d.h as isize || xx >= d.w as isize {
        return 0.0;
    }
    f64::from(x[((b * d.c + c) * d.h + y as usize) * d.w + xx as usize])
}

/// Output, input gradient, weight gradient and bias gradient, by the definition.
#[allow(clippy::type_complexity)]
fn plain(x: &[f32], k: &[f32], bias: &[f32], g: &[f32], d: Dims) -> [Vec<f64>; 4] {
    let (oh, ow) = (d.oh(), d.ow());
    let mut y = vec![0.0; d.b * d.o * oh * ow];
    let mut gx = vec![0.0; x.len()];
    let mut gk = vec![0.0; k.len()];
    let mut gb = vec![0.0; d.o];
    for b in 0..d.b {
        for o in 0..d.o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let at = ((b * d.o + o) * oh + oy) * ow + ox;
                    let gv = f64::from(g[at]);
                    let mut sum = f64::from(bias[o]);
                    gb[o] += gv;
                    for c in 0..d.c {
                        for (tap, &kv) in k[(o * d.c + c) * 9..][..9].iter().enumerate() {
                            let (iy, ix) = (oy + tap / 3, ox + tap % 3);
                            sum += f64::from(kv) * framed(x, d, b, c, iy, ix);
                            gk[(o * d.c + c) * 9 + tap] += gv * framed(x, d, b, c, iy, ix);
                            let (iy, ix) =
                                (iy as isize - d.pad as isize, ix as isize - d.pad as isize);
                            if iy >= 0 && ix >= 0 && iy < d.h as isize && ix < d.w as isize {
                                let i = ((b * d.c + c) * d.h + iy as usize) * d.w + ix as usize;
                                gx[i] += gv * f64::from(kv);
                            }
                        }
                    }
                    y[at] = sum;
                }
            }
        }
    }
    [y, gx, gk, gb]
}

#[test]
fn the_convolution_matches_its_definition_on_every_instruction_set() {
    // (batch, in, out, height, width, padding): blocks of four output planes and remainders,
    // planes shorter and longer than a vector, both paddings.
    let cases = [
        (1, 1, 1, 3, 3, 0),
        (2, 1, 16, 28, 28, 1),
        (2, 16, 8, 14, 14, 1),
        (3, 8, 5, 7, 7, 1),
        (1, 5, 7, 16, 16, 0),
        (2, 16, 1, 11, 13, 1),
        (1, 3, 6, 5, 9, 1),
        (1, 32, 2, 4, 3, 0),
    ];
    for (seed, (b, c, o, h, w, pad)) in cases.into_iter().enumerate() {
        let d = Dims { b, c, o, h, w, pad };
        let seed = seed as u64 * 4;
        let x = numbers(b * c * h * w, seed);
        let k = numbers(o * c * 9, seed + 1);
        let bias = numbers(o, seed + 2);
        let g = numbers(b * o * d.oh() * d.ow(), seed + 3);
        let [y, gx, gk, gb] = plain(&x, &k, &bias, &g, d);
        for isa in Isa::available() {
            let what = format!("{d:?} on {isa:?}");
            assert_close(
                &conv::forward_with(isa, &x, &k, &bias, d),
                &y,
                &format!("output {what}"),
            );
            let ours = conv::input_grad_with(isa, &g, &k, d);
            assert_close(&ours, &gx, &format!("input gradient {what}"));
            let (ok, ob) = conv::weight_grad_with(isa, &x, &g, d);
            assert_close(&ok, &gk, &format!("weight gradient {what}"));
            assert_close(&ob, &gb, &format!("bias gradient {what}"));
        }
        // AVX-512's loop does each output's multiply-adds in the AVX2 loop's order: the same
        // bits, so that a run gives the same losses on either kind of CPU.
        if Isa::available().contains(&Isa::Avx512) {
            let bits = |isa| {
                let mut all = conv::forward_with(isa, &x, &k, &bias, d);
                all.extend(conv::input_grad_with(isa, &g, &k, d));
                all.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            assert_eq!(bits(Isa::Avx512), bits(Isa::Avx2Fma), "{d:?}");
        }
    }
}

#[test]
fn the_loss_matches_its_definition_on_every_instruction_set() {
    for (rows, d) in [(1, 1), (3, 7), (4, 784), (2, 33)] {
        // Logits from -40 to 40, grey targets in [0, 1], one output gradient per row.
        let z: Vec<f32> = numbers(rows * d, 1).iter().map(|v| 40.0 * v).collect();
        let t: Vec<f32> = numbers(rows * d, 2).iter().map(|v| 0.5 + 0.5 * v).collect();
        let g = numbers(rows, 3);
        let loss = |z: f64, t: f64| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p();
        let sums: Vec<f64> = (0..rows)
            .map(|r| {
                (0..d)
                    .map(|i| loss(f64::from(z[r * d + i]), f64::from(t[r * d + i])))
                    .sum()
            })
            .collect();
        let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
        let gz: Vec<f64> = (0..rows * d)
            .map(|i| (sigmoid(f64::from(z[i])) - f64::from(t[i])) * f64::from(g[i / d]))
            .collect();
        let gt: Vec<f64> = (0..rows * d)
            .map(|i| -f64::from(z[i]) * f64::from(g[i / d]))
            .collect();
        for isa in Isa::available() {
            let what = format!("{rows}x{d} on {isa:?}");
            assert_close(
                &bce::forward_with(isa, &z, &t, d),
                &sums,
                &format!("sums {what}"),
            );
            let (oz, ot) = bce::backward_with(isa, &z, &t, &g, d, true);
            assert_close(&oz, &gz, &format!("logit gradient {what}"));
            assert_close(&ot, &gt, &format!("target gradient {what}"));
        }
        // The AVX-512 build of the loops is the AVX2 one's arithmetic on wider registers: the
        // same bits, so that a run gives the same losses on either kind of CPU.
        if Isa::available().contains(&Isa::Avx512) {
            let bits = |isa| {
                let mut all = bce::forward_with(isa, &z, &t, d);
                let (sums, kept) = bce::forward_keep_with(isa, &z, &t, d);
                let (oz, ot) = bce::backward_with(isa, &z, &t, &g, d, true);
                all.extend(sums.into_iter().chain(kept).chain(oz).chain(ot));
                all.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            assert_eq!(bits(Isa::Avx512), bits(Isa::Avx2Fma), "{rows}x{d}");
        }
    }
}
