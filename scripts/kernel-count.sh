#!/usr/bin/env bash
# Kernel launches per training step on wgpu (fusion on), counted with CubeCL's profiling
# logger at level "minimal", which logs every kernel it runs. Runs `cargo bench --bench speed`
# for 3 untimed and 15 timed steps (loss read back every step, as the dashboard does) and
# counts the launches of the kernels that run about once or more per step.
#
#   AE_DATA_DIR=../shared/datasets bash scripts/kernel-count.sh dense-ae vae conv-ae
#   AE_DATA_DIR=../shared/datasets bash scripts/kernel-count.sh vae:conv conv-ae:wide
#
# MODEL:ARCH counts the model with the body `train MODEL --arch ARCH` gives it.
# Works on a software Vulkan adapter too (lavapipe: slow, but the count is the same kind).
# KERNEL_LOGS=dir keeps each model's full launch log there (dir/<model>.log) to read later.
# TIMES=1 logs at level "medium" instead, which times every kernel (CubeCL waits for each one
# to finish, so the step is slower than unprofiled), and prints each kernel's milliseconds and
# launches per step, the most costly first (scripts/kernel-times.awk): where a step's time goes.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/}"
# The bench runs in a folder of its own (for cubecl.toml): a relative path would point elsewhere.
AE_DATA_DIR=$(cd "$AE_DATA_DIR" 2>/dev/null && pwd) ||
    { echo "error: AE_DATA_DIR is not a folder" >&2; exit 1; }
export AE_DATA_DIR CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
[ $# -gt 0 ] || set -- dense-ae vae conv-ae
# The bench binary itself: CubeCL reads cubecl.toml from the working directory, and cargo
# would run it from the repository root.
bench=$(cargo bench --bench speed --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$bench" ] || { echo "error: cannot find the speed bench's binary" >&2; exit 1; }
bench=$(pwd)/$bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
steps=18 # 3 warm-up + 15 timed
for model in "$@"; do
    arch=()
    case $model in *:*) arch=(--arch "${model#*:}") ;; esac
    level=minimal
    [ -n "${TIMES:-}" ] && level=medium
    printf '[profiling.logger]\nlevel = "%s"\nfile = "%s/%s.log"\n' "$level" "$work" "$model" >"$work/cubecl.toml"
    # Twice: the first run fills the autotune cache, whose trial launches would be counted.
    for run in tune count; do
        rm -f "$work/$model.log"
        (cd "$work" && "$bench" \
            --models "${model%%:*}" "${arch[@]}" --backends wgpu --warmup 3 --steps 15 --seconds 0 --no-load \
            --read-every 1 >"$work/$model.$run.out" 2>&1) ||
            { cat "$work/$model.$run.out" >&2; exit 1; }
    done
    if [ -n "${TIMES:-}" ]; then
        awk -v n=$steps -v m="$model" -f scripts/kernel-times.awk "$work/$model.log" |
            awk -F'\t' 'NF == 3 { printf "    %10.3f ms %5.1f x  %s\n", $1, $2, $3; next } { print }'
    else
        sort "$work/$model.log" | uniq -c | awk -v m="$model" -v n=$steps '
            $1 >= n - 2 { s += $1 } $1 < n - 2 { o += $1 }
            END { printf "%s: %.1f kernel launches per step (%d in %d steps; %d others, set-up)\n", m, s / n, s, n, o }'
        # The kinds of kernel that run most, per step (names without their hash and arguments).
        sed -e 's/^Executing //' -e 's/[_ |].*//' "$work/$model.log" | sort | uniq -c | sort -rn |
            head -6 | awk -v n=$steps '{ printf "    %5.1f %s\n", $1 / n, $2 }'
    fi
    if [ -n "${KERNEL_LOGS:-}" ]; then
        mkdir -p "$KERNEL_LOGS" && cp "$work/$model.log" "$KERNEL_LOGS/$model.log"
    fi
done
