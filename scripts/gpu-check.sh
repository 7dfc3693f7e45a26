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
# (default "dense-ae conv-ae vae conv-ae:wide", MODEL:ARCH as in speed-compare.sh), EPOCHS
# (default 3; the first is not counted), PYTHON (default python3, which holds PyTorch there),
# LIMIT (seconds each model's comparison may take, default 150).
#   bash scripts/gpu-check.sh steps
# times training steps with the speed bench (.gpu/speed.xz, packed beside `train`), model by
# model under LIMIT seconds each: our kernels and Burn's layers side by side at BATCHES
# (default "128,256,1024"), then, at each model's own batch, our kernels without each op of
# WITHOUT (default "linear gaussian adam-group"), one at a time, and last each model's host
# floor: a dry run (--dry-run: every launch compiled and dropped, so ms/step is what building,
# fusing and issuing a step costs the CPUs) with the operations a step hands Burn's fusion
# server (--ops), and, where perf is installed, each thread's CPU time in a dry-run step
# (scripts/host-cost.sh; HOST_MODELS, default "dense-ae conv-ae vae"); into
# $OUT/gpu-steps.log.
#   bash scripts/gpu-check.sh kernels
# times every kernel of a training step on the GPU (CubeCL's profiling logger at level
# "medium", the speed bench at BATCH, default each model's own, 3 steps after 3, loss read every
# step): each kernel's milliseconds and launches per step, the most costly first
# (scripts/kernel-times.awk, as `TIMES=1 bash scripts/kernel-count.sh` on lavapipe); into
# $OUT/gpu-kernels.log. Where a step's time goes, before changing a kernel for the GPU.
#   bash scripts/gpu-check.sh blocks
# times the models (MODELS, default "dense-ae deep-ae vae conv-ae") with each block a unit of
# our kernels may take (the dense layer's rows, the convolution's output channels: BLOCKS,
# default "1 2 4 8", the speed bench's --unit-block) at BATCHES; into $OUT/gpu-blocks.log:
# which the rule for a GPU should pick.
set -euo pipefail
cd "$(dirname "$0")/.."

pack() {
    : "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/}"
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
    grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude
    cargo build --release --bin train -q
    local bench
    bench=$(cargo bench --bench speed --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
    [ -x "$bench" ] || { echo "error: cannot find the speed bench's binary" >&2; exit 1; }
    mkdir -p .gpu/mnist
    strip -o .gpu/train target/release/train
    # The bench keeps its symbol table: host-cost.sh tells the spin-waits by their names.
    strip --strip-debug -o .gpu/speed "$bench"
    xz -T0 -6 -f .gpu/train .gpu/speed
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

# On the device machine: everything printed also into $OUT/$1, and Vulkan's loader where the
# machine has none (the device README's recipe), pointed at NVIDIA's driver.
there() {
    : "${OUT:?run this on the device machine, where OUT is set}"
    exec > >(tee "$OUT/$1") 2>&1
    if ! ldconfig -p | grep -q libvulkan; then
        for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
        ldconfig
    fi
    if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
}

run() {
    there gpu-check.log
    xz -dc .gpu/train.xz >/tmp/train && chmod +x /tmp/train
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    export AE_DATA_DIR=$PWD/.gpu TRAIN=/tmp/train BACKEND=wgpu TORCH_DEVICE=cuda
    export MODELS=${MODELS:-dense-ae conv-ae vae conv-ae:wide} EPOCHS=${EPOCHS:-3} PYTHON=${PYTHON:-python3}
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
    # One model per speed-compare call under a time limit, so that a hang or a slow model
    # costs only its own slot and every finished table is already in the log.
    local m
    for m in $MODELS; do
        echo "== $m: wgpu with our kernels, and PyTorch eager on CUDA"
        MODELS=$m KERNELS=ours PEERS=torch timeout "${LIMIT:-150}" bash scripts/speed-compare.sh ||
            echo "($m: stopped or failed, status $?)"
    done
    for m in $MODELS; do
        echo "== $m: wgpu with Burn's layers"
        MODELS=$m KERNELS=burn PEERS= timeout "${LIMIT:-150}" bash scripts/speed-compare.sh ||
            echo "($m: stopped or failed, status $?)"
    done
}

# Two builds of `train` side by side on the GPU: .gpu/train-old.xz (the build before a change:
# move .gpu/train.xz there before packing the new one) and .gpu/train.xz, model by model and
# batch by batch, which goes first alternating. Prints each run's median seconds per training
# epoch (epochs after the first) and its last test loss. CONFIGS: "model:batch ..." (default
# below).
ab() {
    there gpu-ab.log
    xz -dc .gpu/train-old.xz >/tmp/train-old && xz -dc .gpu/train.xz >/tmp/train-new
    chmod +x /tmp/train-old /tmp/train-new
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    export AE_DATA_DIR=$PWD/.gpu
    local configs=${CONFIGS:-conv-ae:128 conv-ae:1024 dense-ae:256 dense-ae:1024 vae:128 vae:1024}
    local i=0 c m b which
    for c in $configs; do
        m=${c%%:*} b=${c##*:}
        local order="old new"
        [ $((i % 2)) = 1 ] && order="new old"
        i=$((i + 1))
        for which in $order; do
            rm -rf /tmp/ab-run
            if timeout "${LIMIT:-60}" /tmp/train-$which "$m" --backend wgpu --epochs "${EPOCHS:-3}" \
                --batch-size "$b" --no-dashboard --out /tmp/ab-run >/tmp/ab.log 2>&1; then
                local med loss
                med=$(awk -F, 'NR==1 {for (i=1;i<=NF;i++) if ($i=="train_seconds") c=i} NR>2 {print $c}' \
                    /tmp/ab-run/metrics.csv | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}')
                loss=$(awk -F, 'NR==1 {for (i=1;i<=NF;i++) if ($i=="test_loss") c=i} END {print $c}' /tmp/ab-run/metrics.csv)
                echo "$m batch $b $which: $med s/epoch (median, epochs after the first), test loss $loss"
            else
                echo "$m batch $b $which: stopped or failed"; tail -3 /tmp/ab.log
            fi
        done
    done
}

# Per-step times from the speed bench: every model with our kernels and with Burn's layers at
# each batch size, then our kernels less one op at a time (the op's Burn layers instead), so
# that one run says which of our ops wins on this GPU and which does not.
steps() {
    there gpu-steps.log
    xz -dc .gpu/speed.xz >/tmp/speed && chmod +x /tmp/speed
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    local common=(--backends wgpu --no-load --data-dir "$PWD/.gpu" --warmup 5 --steps 30
        --seconds 1 --read-every 1)
    local m op
    for m in ${MODELS:-dense-ae deep-ae conv-ae vae sparse-ae linear-ae denoising-ae}; do
        timeout "${LIMIT:-90}" /tmp/speed "${common[@]}" --models "$m" \
            --batches "${BATCHES:-128,256,1024}" --kernels ours,burn 2>/dev/null | grep -E "^\| ($m|model) " ||
            echo "($m: stopped or failed)"
    done
    for op in ${WITHOUT:-linear gaussian adam-group}; do
        for m in ${WITHOUT_MODELS:-dense-ae vae conv-ae}; do
            timeout "${LIMIT:-90}" /tmp/speed "${common[@]}" --models "$m" --without "$op" \
                2>/dev/null | grep -E "^\| ($m|model) " || echo "($m without $op: stopped or failed)"
        done
    done
    echo "== the host's floor (--dry-run) and fusion's operations a step (--ops)"
    for m in ${MODELS:-dense-ae deep-ae conv-ae vae sparse-ae linear-ae denoising-ae}; do
        timeout "${LIMIT:-90}" /tmp/speed "${common[@]}" --models "$m" --dry-run --ops 2>/dev/null |
            grep -E "^\| ($m|model) |operations a step" || echo "($m dry run: stopped or failed)"
    done
    # Where perf is installed, each thread's share of a dry-run step (scripts/host-cost.sh):
    # whether the host or the GPU sets the floor there. About 12 s a model.
    if command -v perf >/dev/null; then
        echo "== CPU ms a step per thread, spin-waits left out (host-cost.sh)"
        AE_DATA_DIR="$PWD/.gpu" MODELS="${HOST_MODELS:-dense-ae conv-ae vae}" \
            bash scripts/host-cost.sh /tmp/speed || echo "(host-cost.sh failed)"
    else
        echo "(no perf on this machine: the per-thread CPU times are left out)"
    fi
}

# The units' blocks (`--unit-block`): each choice's step time, model by model at each batch,
# the choices in turn, each row of a table marked with its choice. What the rule in
# crates/kernels/src/cube/launch.rs (FILL, unit_block) should be on this GPU.
blocks() {
    there gpu-blocks.log
    xz -dc .gpu/speed.xz >/tmp/speed && chmod +x /tmp/speed
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    local common=(--backends wgpu --no-load --data-dir "$PWD/.gpu" --warmup 5 --steps 30
        --seconds 1 --read-every 1)
    local m r
    for m in ${MODELS:-dense-ae deep-ae vae conv-ae}; do
        for r in ${BLOCKS:-1 2 4 8}; do
            timeout "${LIMIT:-60}" /tmp/speed "${common[@]}" --models "$m" --unit-block "$r" \
                --batches "${BATCHES:-128,256,1024}" 2>/dev/null | grep -E "^\| $m " |
                sed "s/^/block $r /" || echo "($m, block $r: stopped or failed)"
        done
    done
}

# Each kernel's time per step, model by model, from CubeCL's profiling logger (CubeCL reads
# cubecl.toml from the working directory).
kernels() {
    there gpu-kernels.log
    xz -dc .gpu/speed.xz >/tmp/speed && chmod +x /tmp/speed
    echo "GPU: $(nvidia-smi -L 2>/dev/null | head -1 || echo 'no nvidia-smi'), $(date -u +%Y-%m-%d)"
    local work m awk_file=$PWD/scripts/kernel-times.awk data=$PWD/.gpu batch=()
    [ -n "${BATCH:-}" ] && batch=(--batches "$BATCH")
    work=$(mktemp -d)
    for m in ${MODELS:-conv-ae dense-ae vae deep-ae}; do
        printf '[profiling.logger]\nlevel = "medium"\nfile = "%s/%s.log"\n' "$work" "$m" >"$work/cubecl.toml"
        # Twice: the first run fills the autotune cache, whose trials would be timed too.
        local run ok=1
        for run in tune time; do
            rm -f "$work/$m.log"
            (cd "$work" && timeout "${LIMIT:-90}" /tmp/speed --models "$m" --backends wgpu --no-load \
                --data-dir "$data" --warmup 3 --steps 3 --seconds 0 --read-every 1 "${batch[@]}" \
                >"$work/$m.out" 2>&1) || ok=0
        done
        if [ $ok = 1 ]; then
            awk -v n=6 -v m="$m" -f "$awk_file" "$work/$m.log" |
                awk -F'\t' 'NF == 3 { printf "    %10.3f ms %5.1f x  %s\n", $1, $2, $3; next } { print }' | head -25
        else
            echo "($m: stopped or failed)"; tail -3 "$work/$m.out"
        fi
    done
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    ab) ab ;;
    steps) steps ;;
    kernels) kernels ;;
    blocks) blocks ;;
    *) echo "usage: bash scripts/gpu-check.sh pack|run|ab|steps|kernels|blocks (see the comments)" >&2; exit 1 ;;
esac
