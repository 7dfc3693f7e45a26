//! The blocks a unit of our wgpu kernels may take (`ae_kernels::set_unit_block`: 1, 2, 4 or 8;
//! on a GPU chosen by the grid's size, 8 on lavapipe): every one gives the same values to the
//! bit, the dense layer's rows and the convolutions' channels alike. In a file of its own, and
//! one test at a time (`ONE_AT_A_TIME`), since the setting is the process's: no other test
//! runs while these change it. (`linear.rs` compares with Burn's layer on
//! inputs where every sum is exact: `common::ops::on_grid` says why.)
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then each test says so).

mod common;

use ae_kernels::KernelBackend;
use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::ops::{conv_ext, dense, pool_ext, random2};
use common::{assert_close, output_and_grads, values};
use std::sync::Mutex;

const NORMAL: Distribution = Distribution::Normal(0.0, 1.0);

/// Held by each test while it changes the process's block.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The wgpu device, unless this run's backend list leaves it out (then it says so).
fn wgpu(test: &str) -> Option<Device> {
    match std::env::var("AE_TEST_BACKENDS") {
        Ok(list) if !list.split(',').any(|b| b.trim() == "wgpu") => {
            eprintln!("NOTE: {test} left out: wgpu is not in AE_TEST_BACKENDS ({list})");
            None
        }
        _ => Some(Device::wgpu(DeviceKind::DefaultDevice)),
    }
}

/// Every block of rows a unit of the wgpu kernels may take (`set_unit_block`: 1, 2 or 4 on a
/// GPU by the grid's size, 8 on lavapipe) gives the same outputs, residuals and gradients to
/// the bit, and the same mean loss to rounding (its terms are added in another order), with
/// batches and widths the blocks do not divide. A number that is no block is refused.
#[test]
fn every_block_of_rows_gives_the_same_values() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    assert!(ae_kernels::set_unit_block(Some(3)).is_err());
    let Some(device) = wgpu("blocks of rows") else {
        return;
    };
    let ad = device.autodiff();
    for (batch, n, o, transposed) in [(3, 5, 7, false), (13, 40, 21, false), (6, 9, 11, true)] {
        let x = random2(batch, n, transposed, &ad);
        let w = random2(n, o, transposed, &ad);
        let b = Tensor::<1>::random([o], NORMAL, &ad);
        let mix = Tensor::<2>::random([batch, o], NORMAL, &ad);
        let t = Tensor::<2>::random([batch, o], Distribution::Default, &ad);
        let run = |rows: usize| {
            ae_kernels::set_unit_block(Some(rows)).unwrap();
            let mut parts = Vec::from(output_and_grads(dense(true), [&x, &w], &b, &mix));
            let (xg, wg, bg) = (
                x.clone().require_grad(),
                w.clone().require_grad(),
                b.clone().require_grad(),
            );
            let (d, mean) = Dispatch::dense_bce_mean(
                xg.clone().into_dispatch(),
                wg.clone().into_dispatch(),
                bg.clone().into_dispatch(),
                t.clone().into_dispatch(),
            );
            let mean = Tensor::<1>::from_dispatch(mean);
            let g = mean.clone().mul_scalar((batch * o) as f32).backward();
            parts.push(values(Tensor::<2>::from_dispatch(d).inner()));
            parts.push(values(xg.grad(&g).unwrap()));
            parts.push(values(wg.grad(&g).unwrap()));
            parts.push(values(bg.grad(&g).unwrap()));
            (parts, values(mean.inner()))
        };
        let (first, first_mean) = run(1);
        for rows in [2, 4, 8] {
            let (these, mean) = run(rows);
            let what = format!("{batch}x{n} -> {o}, views {transposed}, {rows} rows");
            for (k, (a, b)) in these.iter().zip(&first).enumerate() {
                assert!(a == b, "part {k} differs from one row's, {what}");
            }
            assert_close(&mean, &first_mean, &format!("mean loss, {what}"));
        }
    }
    ae_kernels::set_unit_block(None).unwrap();
}

/// Every block of channels a unit may take (`set_unit_block`: 1, 2 or 4 on a GPU by the
/// grid's size, 8 on lavapipe; output channels in the forward kernels, input channels in the
/// input gradient's blocks, pooled or up-sampled; the same in the transposed convolution's)
/// gives the same outputs, pools' picks and gradients to the bit, with channel counts the
/// blocks do not divide and odd sides.
#[test]
fn every_block_of_channels_gives_the_same_values_on_wgpu() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(device) = wgpu("blocks of channels") else {
        return;
    };
    let ad = device.autodiff();
    for (b, c, o, h, w) in [(2, 3, 5, 7, 9), (1, 2, 3, 6, 5), (2, 1, 16, 8, 8)] {
        let x = Tensor::<4>::random([b, c, h, w], NORMAL, &ad);
        let k = Tensor::<4>::random([o, c, 3, 3], NORMAL, &ad);
        let bias = Tensor::<1>::random([o], NORMAL, &ad);
        for (pad, relu, up) in [(1, true, false), (0, false, false), (1, true, true)] {
            let scale = if up { 2 } else { 1 };
            let side = |s: usize| s * scale + 2 * pad - 2;
            let (oh, ow) = (side(h), side(w));
            let mix = Tensor::<4>::random([b, o, oh, ow], NORMAL, &ad);
            let pooled_mix =
                Tensor::<4>::random([b, o, oh.div_ceil(2), ow.div_ceil(2)], NORMAL, &ad);
            let run = |block: usize| {
                ae_kernels::set_unit_block(Some(block)).unwrap();
                let plain = output_and_grads(conv_ext(pad, relu, up), [&x, &k], &bias, &mix);
                let pooled =
                    output_and_grads(pool_ext(pad, relu, up), [&x, &k], &bias, &pooled_mix);
                [plain, pooled].concat()
            };
            let first = run(1);
            for block in [2, 4, 8] {
                let what = format!(
                    "b{b} {c}->{o} {h}x{w} pad {pad}, ReLU {relu}, up {up}, {block} channels"
                );
                for (i, (a, r)) in run(block).iter().zip(&first).enumerate() {
                    assert!(a == r, "part {i} differs from one channel's, {what}");
                }
            }
        }
        // The stride-2 transposed convolution, ReLU or not: output channels a unit forward,
        // input channels in the input gradient.
        let k = Tensor::<4>::random([c, o, 3, 3], NORMAL, &ad);
        let mix = Tensor::<4>::random([b, o, 2 * h, 2 * w], NORMAL, &ad);
        let run = |block: usize| {
            ae_kernels::set_unit_block(Some(block)).unwrap();
            let plain = output_and_grads(ae_kernels::conv_transpose3x3s2, [&x, &k], &bias, &mix);
            let relu = ae_kernels::conv_transpose3x3s2_relu;
            [plain, output_and_grads(relu, [&x, &k], &bias, &mix)].concat()
        };
        let first = run(1);
        for block in [2, 4, 8] {
            for (i, (a, r)) in run(block).iter().zip(&first).enumerate() {
                let what = format!("transposed b{b} {c}->{o} {h}x{w}, {block} channels");
                assert!(a == r, "part {i} differs from one channel's, {what}");
            }
        }
    }
    ae_kernels::set_unit_block(None).unwrap();
}
