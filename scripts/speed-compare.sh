#!/usr/bin/env bash
# Side-by-side training speed: this project against the same nets in Keras/TF and PyTorch,
# on this machine, in the same run, one after the other, model by model.
#
#   AE_DATA_DIR=../shared/datasets PYTHON=/path/to/venv/bin/python bash scripts/speed-compare.sh
#
# Environment: MODELS (default "dense-ae deep-ae conv-ae vae"; MODEL:ARCH trains MODEL with
# --arch ARCH, e.g. conv-ae:wide, which PyTorch's peer has and Keras's not), EPOCHS (default
# 3; the first epoch is not counted), BACKEND for this project (default auto), PEERS (default
# "keras torch"; empty: none; a peer whose package is missing is skipped with a note), BATCH
# (default: each model's own), TORCH_DEVICE (default: cuda if PyTorch sees one, else cpu),
# KERNELS for this project (ours, the default: ae-kernels' convolutions and max-pooling on
# flex and ndarray; burn: Burn's layers), ORDER (ours-first, the default, or peers-first: who
# runs first for each model; run the script twice, once each way, on a shared machine), TRAIN
# (the `train` binary to time; default: build target/release/train with cargo first).
# Prints a Markdown table of the median seconds per training epoch (epochs after the first);
# this project's figure is the `train_seconds` column of metrics.csv, the training pass alone,
# as the peers' are.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/}"
export AE_DATA_DIR
MODELS=${MODELS:-dense-ae deep-ae conv-ae vae}
EPOCHS=${EPOCHS:-3}
BACKEND=${BACKEND:-auto}
PEERS=${PEERS-keras torch}
PYTHON=${PYTHON:-python3}
KERNELS=${KERNELS:-ours}
ORDER=${ORDER:-ours-first}
if [ "$EPOCHS" -lt 2 ]; then echo "error: EPOCHS must be 2 or more (the first is not counted)" >&2; exit 1; fi

if [ -z "${TRAIN:-}" ]; then
    cargo build --release --bin train -q
    TRAIN=./target/release/train
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2}'; }

ours() { # model[:arch] -> median train_seconds of epochs 2..
    local batch_flag=() arch=()
    [ -n "${BATCH:-}" ] && batch_flag=(--batch-size "$BATCH")
    case $1 in *:*) arch=(--arch "${1#*:}") ;; esac
    "$TRAIN" "${1%%:*}" "${arch[@]}" --backend "$BACKEND" --kernels "$KERNELS" --epochs "$EPOCHS" "${batch_flag[@]}" \
        --no-dashboard --out "$out/$1" --overwrite >"$out/$1.log" 2>&1 ||
        { cat "$out/$1.log" >&2; return 1; }
    awk -F, 'NR==1 {for (i=1;i<=NF;i++) if ($i=="train_seconds") c=i} NR>2 {print $c}' \
        "$out/$1/metrics.csv" | median
}

peer() { # peer model -> median s/epoch, or a note
    local script="scripts/peers/${1}_ae.py" args=("$2" --epochs "$EPOCHS")
    [ -n "${BATCH:-}" ] && args+=(--batch "$BATCH")
    [ "$1" = torch ] && [ -n "${TORCH_DEVICE:-}" ] && args+=(--device "$TORCH_DEVICE")
    local module=$1; [ "$1" = keras ] && module=tensorflow
    if ! "$PYTHON" -c "import $module" 2>/dev/null; then echo "not installed"; return; fi
    # The nets a peer has: the keys of its BATCH table.
    if ! grep -q "^BATCH = .*\"$2\":" "$script"; then echo "no such net"; return; fi
    "$PYTHON" "$script" "${args[@]}" >"$out/$1-$2.log" 2>&1 || { echo "failed (see below)"; cat "$out/$1-$2.log" >&2; return; }
    sed -n 's/.*median_s_per_epoch=\([0-9.]*\).*/\1/p' "$out/$1-$2.log"
}

backend_line=""
header="| model | batch | this project | "
for p in $PEERS; do header+="$p | "; done
rows=()
for m in $MODELS; do
    echo "timing $m ..." >&2
    [ "$ORDER" = ours-first ] && ours_s=$(ours "$m")
    peer_s=""
    for p in $PEERS; do
        s=$(peer "$p" "$m")
        peer_s+="$s | "
        [ -f "$out/$p-$m.log" ] && grep -h '^RESULT' "$out/$p-$m.log" >&2 || true
    done
    [ "$ORDER" = ours-first ] || ours_s=$(ours "$m")
    backend_line=$(grep -m1 '^backend:' "$out/$m.log" || true)
    batch=${BATCH:-$(grep -o '"batch_size": [0-9]*' "$out/$m/config.json" | grep -o '[0-9]*$')}
    rows+=("| $m | $batch | $ours_s | $peer_s")
done

echo
echo "Median seconds per training epoch over 60 000 MNIST images (epochs 2-$EPOCHS of $EPOCHS),"
echo "$(date -u +%Y-%m-%d), $(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); this project: ${backend_line#backend: }"
echo
echo "$header"
echo "|---|---|---|$(for p in $PEERS; do printf -- '---|'; done)"
printf '%s\n' "${rows[@]}"
