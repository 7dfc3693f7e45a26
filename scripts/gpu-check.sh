#!/usr/bin/env bash
# Issue 15's GPU checks in one prepared run, for a session lent a GPU machine (the `device`
# tool; no Rust toolchain and no internet there): seconds per training epoch on wgpu with our
# kernels and with Burn's layers, beside PyTorch eager on CUDA, model by model, on that machine.
#
# Here, once a session (builds the release `train`, strips and compresses it, and gathers what
# travels: .gpu/train.xz, .gpu/mnist/ and the Vulkan loaders in .gl/, all ignored by git):
#   AE_DATA_DIR=../shared/datasets bash scripts/gpu-check.sh pack
# There (the device tool's `run`, with carry [".gpu", ".gl"] and a timeout_s of about 540):
#   bash scripts/gpu-check.sh run
# which writes $OUT/gpu-check.md (the tables, with the GPU's name and the date) and
# $OUT/gpu-check.log. Environment for `run`: MODELS (default "dense-ae conv-ae vae"), EPOCHS
# (default 3; the first is not counted), BUDGET (seconds for the whole run, default 480: a
# model that would start after it is skipped, and the table says so), LIMIT (train on the first
# N images only, and PyTorch on all: a quick try of the script itself, on lavapipe say),
# PYTHON (default python3, which holds PyTorch there).
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
    local models=${MODELS:-dense-ae conv-ae vae} epochs=${EPOCHS:-3} budget=${BUDGET:-480}
    local start=$SECONDS log="$OUT/gpu-check.log" md="$OUT/gpu-check.md" limit=()
    [ -n "${LIMIT:-}" ] && limit=(--limit "$LIMIT" --test-limit "$LIMIT")
    exec > >(tee "$log") 2>&1
    # Vulkan's loader, where the machine has none (the device README's recipe).
    if ! ldconfig -p | grep -q libvulkan; then
        for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
        ldconfig
    fi
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    xz -dc .gpu/train.xz >/tmp/train && chmod +x /tmp/train
    export AE_DATA_DIR=$PWD/.gpu
    local gpu
    gpu=$(nvidia-smi -L 2>/dev/null | head -1 || echo "no nvidia-smi")
    {
        echo "GPU check, $(date -u +%Y-%m-%d), $gpu; $(nproc) CPU cores."
        echo "Median seconds per training epoch over ${LIMIT:-60 000} MNIST images (epochs 2-$epochs of $epochs),"
        echo "each model's own batch size; wgpu's adapter as \`train\` printed it below."
        echo
        echo "| model | wgpu, our kernels | wgpu, Burn's layers | PyTorch eager, CUDA |"
        echo "|---|---|---|---|"
    } >"$md"
    for m in $models; do
        if [ $((SECONDS - start)) -ge "$budget" ]; then
            echo "| $m | skipped: over the budget of ${budget}s | | |" >>"$md"
            continue
        fi
        local row="| $m |"
        for k in ours burn; do
            echo "== $m, --kernels $k"
            if timeout 240 /tmp/train "$m" --backend wgpu --kernels "$k" --epochs "$epochs" \
                "${limit[@]}" --no-dashboard --out "/tmp/gpu-runs/$m-$k" --overwrite; then
                row+=" $(awk -F, 'NR==1 {for (i=1;i<=NF;i++) if ($i=="train_seconds") c=i}
                    NR>2 {print $c}' "/tmp/gpu-runs/$m-$k/metrics.csv" | sort -g |
                    awk '{v[NR]=$1} END {printf "%.3f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}') |"
            else
                row+=" failed (see the log) |"
            fi
        done
        echo "== $m, PyTorch"
        if timeout 180 "${PYTHON:-python3}" scripts/peers/torch_ae.py "$m" --device cuda --epochs "$epochs" \
            >"/tmp/torch-$m.log" 2>&1; then
            cat "/tmp/torch-$m.log"
            row+=" $(sed -n 's/.*median_s_per_epoch=\([0-9.]*\).*/\1/p' "/tmp/torch-$m.log") |"
        else
            cat "/tmp/torch-$m.log"
            row+=" failed (see the log) |"
        fi
        echo "$row" >>"$md"
    done
    cat "$md"
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) echo "usage: bash scripts/gpu-check.sh pack|run (see the comment at the top)" >&2; exit 1 ;;
esac
