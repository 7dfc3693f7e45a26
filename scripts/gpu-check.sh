#!/usr/bin/env bash
# Issue 15's GPU checks in one prepared run, for a session lent a GPU machine (the `device`
# tool; no Rust toolchain and no internet there): scripts/speed-compare.sh on that machine,
# wgpu with our kernels beside PyTorch eager on CUDA, then wgpu with Burn's layers, model by
# model, under the GPU's name.
#
# Here, once a session (builds the release `train`, strips and compresses it, and gathers what
# travels: .gpu/train.xz, .gpu/mnist/ and the Vulkan loaders in .gl/, all ignored by git):
#   AE_DATA_DIR=../shared/datasets bash scripts/gpu-check.sh pack
# There (the device tool's `run`, with carry [".gpu", ".gl"] and a timeout_s of about 540):
#   bash scripts/gpu-check.sh run
# which writes everything it prints to $OUT/gpu-check.log. Environment for `run`: MODELS
# (default "dense-ae conv-ae vae"), EPOCHS (default 3; the first is not counted), PYTHON
# (default python3, which holds PyTorch there).
set -euo pipefail
cd "$(dirname "$0")/.."

pack() {
    : "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/}"
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
    grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude
    cargo build --release --bin train -q
    mkdir -p .gpu/mnist
    strip -o .gpu/train target/release/train
    xz -T0 -6 -f .gpu/train
    cp "$AE_DATA_DIR"/mnist/*.gz .gpu/mnist/
    if ! ls .gl/*.deb >/dev/null 2>&1; then
        # The device README's recipe: Vulkan's and EGL's loaders as amd64 packages.
        mkdir -p .gl /tmp/amd64/partial
        local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
        apt-get "${o[@]}" update -qq
        (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    fi
    du -sh .gpu .gl
    echo "packed: carry [\".gpu\", \".gl\"] and run: bash scripts/gpu-check.sh run"
}

run() {
    : "${OUT:?run this on the device machine, where OUT is set}"
    exec > >(tee "$OUT/gpu-check.log") 2>&1
    # Vulkan's loader, where the machine has none (the device README's recipe).
    if ! ldconfig -p | grep -q libvulkan; then
        for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
        ldconfig
    fi
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    xz -dc .gpu/train.xz >/tmp/train && chmod +x /tmp/train
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    export AE_DATA_DIR=$PWD/.gpu TRAIN=/tmp/train BACKEND=wgpu TORCH_DEVICE=cuda
    export MODELS=${MODELS:-dense-ae conv-ae vae} EPOCHS=${EPOCHS:-3} PYTHON=${PYTHON:-python3}
    echo "== wgpu with our kernels, and PyTorch eager on CUDA"
    KERNELS=ours PEERS=torch bash scripts/speed-compare.sh
    echo "== wgpu with Burn's layers"
    KERNELS=burn PEERS= bash scripts/speed-compare.sh
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) echo "usage: bash scripts/gpu-check.sh pack|run (see the comment at the top)" >&2; exit 1 ;;
esac
