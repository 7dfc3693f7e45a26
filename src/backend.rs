//! Choosing where tensors live: `--backend auto | wgpu | cuda | ndarray | flex`.
//!
//! `auto` takes CUDA on an NVIDIA GPU when the build has the `cuda` feature, else wgpu on a
//! real GPU adapter; software adapters (llvmpipe, lavapipe) report device type `Cpu` and do
//! not count. Without either it takes flex, the faster CPU backend.

use anyhow::{Result, bail};
use burn::prelude::*;

/// Which implementation of the layers ae-kernels has ops for to use (`--kernels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KernelsArg {
    /// ae-kernels' own kernels: the convolutions, max-pool, loss and Adam on flex and ndarray;
    /// the 3x3 convolution, the max-pool, the loss, the fully connected layers, the VAE's
    /// code and Adam on wgpu (CubeCL); Burn's layers elsewhere.
    #[default]
    Ours,
    /// Burn's layers everywhere (the reference path).
    Burn,
}

impl KernelsArg {
    /// Makes the choice for this process.
    pub fn apply(self) {
        ae_kernels::set_enabled(self == KernelsArg::Ours);
    }

    /// The name as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelsArg::Ours => "ours",
            KernelsArg::Burn => "burn",
        }
    }

    /// Parses a name (for lists of them).
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim() {
            "ours" => Ok(KernelsArg::Ours),
            "burn" => Ok(KernelsArg::Burn),
            other => bail!("kernels are ours or burn, not '{other}'"),
        }
    }
}

/// A backend named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// wgpu on a real GPU if there is one, else flex.
    Auto,
    /// The GPU through wgpu (Vulkan, Metal, DX12); a software adapter works but is slow.
    Wgpu,
    /// An NVIDIA GPU through CUDA (builds with `--features cuda` only).
    Cuda,
    /// The ndarray CPU backend (Burn's classic CPU fallback).
    Ndarray,
    /// The flex CPU backend (Burn 0.22's newer one, several times faster than ndarray).
    Flex,
}

impl BackendChoice {
    /// The name as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Wgpu => "wgpu",
            BackendChoice::Cuda => "cuda",
            BackendChoice::Ndarray => "ndarray",
            BackendChoice::Flex => "flex",
        }
    }

    /// Parses a name (for lists in environment variables).
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim() {
            "auto" => Ok(BackendChoice::Auto),
            "wgpu" => Ok(BackendChoice::Wgpu),
            "cuda" => Ok(BackendChoice::Cuda),
            "ndarray" => Ok(BackendChoice::Ndarray),
            "flex" => Ok(BackendChoice::Flex),
            other => {
                bail!("unknown backend '{other}' (expected auto, wgpu, cuda, ndarray or flex)")
            }
        }
    }
}

/// A graphics adapter wgpu can see.
#[derive(Debug, Clone)]
pub struct Adapter {
    /// Its name (e.g. "NVIDIA H100", "llvmpipe (LLVM 15.0.6, 256 bits)").
    pub name: String,
    /// The graphics API it is reached through.
    pub api: String,
    /// Whether it is a real GPU (discrete, integrated or virtual), not a CPU renderer.
    pub is_gpu: bool,
    /// The largest storage buffer it lets a kernel bind, in bytes (its reported limits).
    pub max_buffer_bytes: u64,
}

/// The adapters wgpu finds on this machine, real GPUs first, probed once per process (the
/// Vulkan loader does not like instances made and dropped on several threads at once).
pub fn wgpu_adapters() -> &'static [Adapter] {
    static ADAPTERS: std::sync::OnceLock<Vec<Adapter>> = std::sync::OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let found =
            futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
        let mut adapters: Vec<Adapter> = found
            .iter()
            .map(|a| {
                let info = a.get_info();
                let limits = a.limits();
                Adapter {
                    max_buffer_bytes: limits
                        .max_storage_buffer_binding_size
                        .min(limits.max_buffer_size),
                    name: info.name.clone(),
                    api: format!("{:?}", info.backend),
                    is_gpu: matches!(
                        info.device_type,
                        wgpu::DeviceType::DiscreteGpu
                            | wgpu::DeviceType::IntegratedGpu
                            | wgpu::DeviceType::VirtualGpu
                    ),
                }
            })
            .collect();
        // Keep the instance alive for the whole process rather than tearing it down.
        std::mem::forget(instance);
        adapters.sort_by_key(|a| !a.is_gpu);
        adapters
    })
}

/// A device ready to use, and a line saying which and why.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The device (without autodiff).
    pub device: Device,
    /// The backend in the end: never `Auto`.
    pub backend: BackendChoice,
    /// One line for the user: which backend, on what, and why.
    pub note: String,
}

/// Turns a choice into a device, checking that wgpu has an adapter before touching it.
pub fn resolve(choice: BackendChoice) -> Result<Resolved> {
    let flex = |note: String| Resolved {
        device: Device::flex(),
        backend: BackendChoice::Flex,
        note,
    };
    match choice {
        BackendChoice::Flex => Ok(flex("backend: flex (CPU)".into())),
        BackendChoice::Ndarray => Ok(Resolved {
            #[allow(deprecated)] // Burn deprecates ndarray in favour of flex; it is our fallback.
            device: Device::ndarray(),
            backend: BackendChoice::Ndarray,
            note: "backend: ndarray (CPU)".into(),
        }),
        BackendChoice::Wgpu => {
            let adapters = wgpu_adapters();
            let Some(first) = adapters.first() else {
                bail!(
                    "--backend wgpu: no graphics adapter found (install GPU drivers, or Mesa's \
                     mesa-vulkan-drivers for a slow software one), or use --backend flex"
                );
            };
            let note = if first.is_gpu {
                format!("backend: wgpu on {} ({})", first.name, first.api)
            } else {
                format!(
                    "backend: wgpu on {} ({}), a SOFTWARE renderer on the CPU: expect it to be \
                     much slower than --backend flex",
                    first.name, first.api
                )
            };
            Ok(Resolved {
                device: Device::wgpu(DeviceKind::DefaultDevice),
                backend: BackendChoice::Wgpu,
                note,
            })
        }
        BackendChoice::Cuda => cuda(),
        BackendChoice::Auto if cfg!(feature = "cuda") && nvidia_driver().is_some() => {
            let mut resolved = cuda()?;
            resolved.note.push_str(" (auto)");
            Ok(resolved)
        }
        BackendChoice::Auto => {
            let adapters = wgpu_adapters();
            match adapters.iter().find(|a| a.is_gpu) {
                Some(gpu) => Ok(Resolved {
                    device: Device::wgpu(DeviceKind::DefaultDevice),
                    backend: BackendChoice::Wgpu,
                    note: format!("backend: wgpu on {} ({}), a GPU (auto)", gpu.name, gpu.api),
                }),
                None => {
                    let why = match adapters.first() {
                        Some(a) => format!("only the software adapter {} was found", a.name),
                        None => "no GPU adapter was found".to_string(),
                    };
                    Ok(flex(format!(
                        "backend: flex (CPU), the faster CPU backend (auto: {why})"
                    )))
                }
            }
        }
    }
}

/// The NVIDIA driver's version line, when this machine has the driver loaded (Linux).
fn nvidia_driver() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    Some(text.lines().next().unwrap_or("").trim().to_string())
}

/// CUDA, when the build has it and the machine has an NVIDIA driver.
fn cuda() -> Result<Resolved> {
    if !cfg!(feature = "cuda") {
        bail!(
            "--backend cuda: this build has no CUDA backend; build with `cargo run --release \
             --features cuda --bin train -- ...` (the build fetches an LLVM bundle from the \
             internet, or see the README's \"Building CUDA without the internet\"; running \
             needs an NVIDIA driver), or use --backend wgpu"
        );
    }
    if cfg!(target_os = "linux") && nvidia_driver().is_none() {
        bail!(
            "--backend cuda: no NVIDIA driver found (/proc/driver/nvidia/version is missing); \
             use --backend wgpu or flex"
        );
    }
    cuda_device()
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Resolved> {
    let driver = nvidia_driver().unwrap_or_else(|| "NVIDIA driver".into());
    Ok(Resolved {
        device: Device::cuda(burn::tensor::DeviceIndex::Default),
        backend: BackendChoice::Cuda,
        note: format!("backend: cuda on the first NVIDIA GPU ({driver})"),
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Resolved> {
    bail!("--backend cuda: this build has no CUDA backend")
}

/// Reads a tensor back from the device; `what` names it in the error.
pub fn read_f32<const D: usize>(t: Tensor<D>, what: &str) -> anyhow::Result<Vec<f32>> {
    t.try_into_data()
        .map_err(|e| anyhow::anyhow!("cannot read {what} back from the device: {e}"))?
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read {what} back from the device: {e:?}"))
}
