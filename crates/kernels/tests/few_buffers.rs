//! Devices that let a kernel bind few storage buffers (wgpu on OpenGL allows 16, where the
//! grouped Adam's kernel binds 30): each op takes its kernel only where it fits, the grouped
//! Adam falls back to a step per parameter and trains as Burn's Adam does; one buffer past
//! the grouped Adam's own count (CubeCL keeps one back) its kernel is taken and runs, so a
//! count two short fails here. The devices are lavapipe's (or whatever wgpu finds) asked for
//! a lower limit than it has.
//!
//! wgpu is tested unless `AE_TEST_BACKENDS` is set and leaves it out (then the test says so).

mod common;

use ae_kernels::Op;
use ae_kernels::adam::FusedAdam;
use ae_kernels::adam_group::{self, step_module};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::wgpu::{WgpuSetup, wgpu};
use common::{assert_close, numbers, values};
use futures_lite::future::block_on;

const EPS: f32 = 1e-8;
const LR: f64 = 1e-2;

/// wgpu's default adapter as a device that lets a kernel bind at most `limit` storage buffers;
/// `None` (and a note) where wgpu is left out of the tests or the adapter allows fewer.
fn device_with_buffers(limit: u32) -> Option<Device> {
    if let Ok(list) = std::env::var("AE_TEST_BACKENDS")
        && !list.split(',').any(|b| b.trim() == "wgpu")
    {
        eprintln!("NOTE: devices with few buffers left out: wgpu not in AE_TEST_BACKENDS ({list})");
        return None;
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .expect("a wgpu adapter");
    let mut limits = adapter.limits();
    if limits.max_storage_buffers_per_shader_stage < limit {
        eprintln!(
            "NOTE: a device with {limit} buffers left out: {} allows {}",
            adapter.get_info().name,
            limits.max_storage_buffers_per_shader_stage
        );
        return None;
    }
    limits.max_storage_buffers_per_shader_stage = limit;
    let features = adapter.features().difference(
        wgpu::Features::MAPPABLE_PRIMARY_BUFFERS | wgpu::Features::all_experimental_mask(),
    );
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_features: features,
        required_limits: limits,
        ..Default::default()
    }))
    .expect("a wgpu device with fewer buffers");
    let backend = adapter.get_info().backend;
    let setup = WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    };
    Some(
        Device::wgpu_options()
            .setup(setup)
            .init()
            .expect("the device registered"),
    )
}

/// Three layers, six parameters: two launches of the grouped Adam where it is used.
fn stack(device: &Device) -> Vec<Linear> {
    [(9, 40), (40, 7), (7, 4)]
        .map(|(i, o)| LinearConfig::new(i, o).init(device))
        .to_vec()
}

fn weights(stack: &[Linear]) -> Vec<f32> {
    stack
        .iter()
        .flat_map(|l| values(l.weight.val().inner()))
        .collect()
}

fn grads(stack: &Vec<Linear>, seed: u64, device: &Device) -> GradientsParams {
    let x = Tensor::<1>::from_floats(numbers(6 * 9, seed).as_slice(), device).reshape([6, 9]);
    let y = stack.iter().fold(x, |h, l| l.forward(h).tanh());
    GradientsParams::from_grads(y.powf_scalar(2.0).sum().backward(), stack)
}

/// Four steps of `step_module` with `FusedAdam` and of Burn's Adam from the same start: equal
/// to float rounding after each.
fn steps_match_burn_s_adam(device: &Device) {
    let start = stack(device);
    let mut fused = FusedAdam::init(EPS);
    let mut burn = AdamConfig::new().with_epsilon(EPS).init();
    let (mut a, mut b) = (start.clone(), start.clone());
    for step in 0..4u64 {
        let (ga, gb) = (grads(&a, step, device), grads(&b, step, device));
        a = step_module(&mut fused, LR.into(), a, ga);
        b = burn.step(LR, b, gb);
        assert_close(&weights(&a), &weights(&b), &format!("step {}", step + 1));
    }
    assert_ne!(weights(&a), weights(&start), "the steps moved the weights");
}

#[test]
fn on_sixteen_buffers_every_op_but_the_grouped_adam_is_ours_and_adam_steps_one_by_one() {
    let Some(device) = device_with_buffers(16) else {
        return;
    };
    let ad = device.autodiff();
    for op in [
        Op::MaxPool,
        Op::Conv,
        Op::Bce,
        Op::Unpack,
        Op::Linear,
        Op::Gaussian,
    ] {
        assert!(op.used_on(&ad), "{op:?} needs {} buffers", op.buffers());
    }
    assert!(!adam_group::used_on(&ad), "the grouped Adam binds 30");
    steps_match_burn_s_adam(&ad);
}

#[test]
fn at_the_grouped_adam_s_own_count_its_kernel_is_taken_and_runs() {
    let need = Op::AdamGroup.buffers();
    // wgpu keeps one buffer for itself on Metal; CubeCL leaves it at every limit.
    let Some(below) = device_with_buffers(need) else {
        return;
    };
    assert!(
        !adam_group::used_on(&below.autodiff()),
        "{need} allowed, one taken"
    );
    let Some(device) = device_with_buffers(need + 1) else {
        return;
    };
    let ad = device.autodiff();
    assert!(adam_group::used_on(&ad));
    steps_match_burn_s_adam(&ad);
}
