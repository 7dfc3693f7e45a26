#!/usr/bin/env bash
# What a wgpu training step costs the CPU, thread by thread: the speed bench's dry run
# (--dry-run: every launch compiled, then dropped) under `perf record`, and for each thread the
# CPU time a step takes outside its spin-waits. A step on wgpu runs on three threads (the
# caller's, burn-fusion's server, CubeCL's server) that wait for each other by spinning; a step
# can go no faster than the busiest, whatever the GPU.
#
#   bash scripts/host-cost.sh [BENCH ...]
#
# BENCH: speed bench binaries (default: this checkout's, built with `cargo bench --bench speed
# --no-run`; a copy must keep its symbol table: `strip --strip-debug`, not plain `strip`);
# give two builds' binaries, then again in the other order, to compare them on a noisy
# machine. Environment: MODELS (default "dense-ae conv-ae vae"), RUN_SECONDS (timed seconds a
# run, default 10, at least 9: the last 8 are counted), FREQ (perf's samples a second,
# default 499), AE_DATA_DIR as for `train`. Needs `perf` and a wgpu adapter (lavapipe does).
#
# Prints a line a binary and model: ms/step of the dry run (wall, spins included), then each
# thread's work in ms/step (samples outside `submit_inner`, `Server::start` and
# `State::enqueued`, CubeCL 0.11's spin loops, over the last 8 seconds): `caller` (the bench's
# own thread), `fusion` (burn-fusion's server, DSU-*), `cubecl` (CubeCL's server, DSD-*),
# `device` (a software device's code, lavapipe's, which should be about 0 in a dry run), and
# any other thread by its name.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v perf >/dev/null || { echo "error: perf is not installed" >&2; exit 1; }
: "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/}"
if [ $# -eq 0 ]; then
    bench=$(cargo bench --bench speed --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
    [ -x "$bench" ] || { echo "error: cannot find the speed bench's binary" >&2; exit 1; }
    set -- "$bench"
fi
seconds=${RUN_SECONDS:-10}
freq=${FREQ:-499}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}

failed=0
for bin in "$@"; do
    # The spin loops are told apart by name: a binary without its symbol table (`strip`
    # without --strip-debug) would count them as work.
    # (grep reads all of nm's output: with -q it would stop early, and pipefail would then
    # count nm's broken pipe as a failure.)
    if command -v nm >/dev/null && ! nm "$bin" 2>/dev/null | grep submit_inner >/dev/null; then
        echo "error: $bin has no symbol table to tell the spin-waits by (strip it with --strip-debug, not plain strip)" >&2
        exit 1
    fi
    for m in ${MODELS:-dense-ae conv-ae vae}; do
        perf record -q -F "$freq" -g -o "$work/perf.data" -- "$bin" --backends wgpu \
            --models "$m" --no-load --dry-run --read-every 1 --warmup 3 --steps 30 \
            --seconds "$seconds" >"$work/out" 2>/dev/null || {
            echo "error: $bin $m: the dry run failed (run it without perf to see why)" >&2
            failed=1
            continue
        }
        ms=$(awk -F'|' -v m="$m" '$2 ~ "^ " m " $" {gsub(/ /, "", $6); print $6}' "$work/out" | tail -1)
        last=$(perf report -i "$work/perf.data" --header-only 2>/dev/null |
            awk '/time of last sample/ {print $NF}')
        start=$(awk -v l="$last" 'BEGIN {printf "%.6f", l - 8}')
        perf report -i "$work/perf.data" --time "$start,$last" --no-children -g none --sort comm,dso,sym \
            -F sample,comm,dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' |
            awk -v label="$(basename "$bin") $m" -v ms="$ms" -v freq="$freq" \
                -v caller="$(basename "$bin" | cut -c1-15)" '
                $1 ~ /^[0-9]+$/ {
                    t = $2 == caller ? "caller" : $2 ~ /^DSU/ ? "fusion" : $2 ~ /^DSD/ ? "cubecl" : $2
                    # Kernels run by a software device (lavapipe) on threads named after the
                    # CubeCL server thread that started them: none should be left in a dry run.
                    if ($3 ~ /^\[JIT\]|perf-[0-9]+\.map|lvp|LLVM|swrast/) t = "device"
                    tot[t] += $1
                    sym = ""
                    for (i = 4; i <= NF; i++) sym = sym " " $i
                    if (sym ~ /submit_inner|Server::start|State::enqueued/) spin[t] += $1
                }
                END {
                    printf "%s: %s ms/step (dry run); work ms/step:", label, ms
                    for (c in tot) if (c != "") printf " %s %.3f", c, (tot[c] - spin[c]) / freq / 8 * ms
                    printf "\n"
                }'
    done
done
exit "$failed"
