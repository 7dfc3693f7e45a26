//! How many storage buffers one kernel of each op binds, and whether a device lets a kernel
//! bind that many. wgpu's limit is the adapter's: far past every op on Vulkan (lavapipe,
//! desktop GPUs), 31 on Metal (CubeCL takes 30: the grouped Adam's count, just), 16 on OpenGL
//! (wgpu's fallback where no Vulkan driver is installed). A kernel past it is refused when its
//! pipeline is made, so an op that would not fit stays on Burn's layers there
//! ([`Op::runs_on`]). The public functions ask for every call, so the last device's limit is
//! kept per thread: a step asks CubeCL's registry for it once, not once an op.

use super::Op;
use burn::backend::CubeDevice;
use std::cell::Cell;

impl Op {
    /// The storage buffers the largest of this op's CubeCL kernels binds: its tensors and
    /// CubeCL's one buffer of sizes and scalars. 0 for an op without a CubeCL kernel.
    pub fn buffers(self) -> u32 {
        match self {
            // The backward: input, gradient, output.
            Op::MaxPool => 4,
            // The backward: input, gradient, output, weight and the four it writes.
            Op::Conv => 9,
            // The gradient at the logits: logits, target, gradient, output.
            Op::Bce => 5,
            // Words, indices, output.
            Op::Unpack => 4,
            // The gradients: input, weight, output, gradient and the three it writes.
            Op::Linear => 8,
            // The gradients: seven tensors read (the input, both heads' weights, the heads,
            // the noise, the code's gradient, the KL weight), five written.
            Op::Gaussian => 13,
            // Seven tensors for each of four parameters, and the factors.
            Op::AdamGroup => 30,
            // The gradients: input, gradient, weight and the four it writes.
            Op::ConvTranspose => 8,
            Op::Adam => 0,
        }
    }
}

/// Whether one kernel on `device` may bind `buffers` storage buffers. CubeCL's `max_bindings`
/// is wgpu's limit less one (Metal keeps one for itself), which is the limit taken here.
pub(super) fn fits(device: &CubeDevice, buffers: u32) -> bool {
    max_bindings(device) >= buffers
}

thread_local! {
    /// The last device asked about (its id's two parts) and its `max_bindings`.
    static LAST: Cell<Option<(u16, u16, u32)>> = const { Cell::new(None) };
}

fn max_bindings(device: &CubeDevice) -> u32 {
    let id = device.to_id();
    LAST.with(|last| match last.get() {
        Some((t, i, max)) if (t, i) == (id.type_id, id.index_id) => max,
        _ => {
            let max = device.client().properties().hardware.max_bindings;
            last.set(Some((id.type_id, id.index_id, max)));
            max
        }
    })
}
