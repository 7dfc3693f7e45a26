#!/usr/bin/env bash
# The anchor runs over several seeds and both data sets: mean and sample sd of each model's last
# test figure, as a Markdown table.
#
#   AE_DATA_DIR=../shared/datasets bash scripts/seeds.sh
#
# Environment: MODELS (default "dense-ae deep-ae vae linear-ae sparse-ae"; conv-ae and
# denoising-ae take about 10 minutes a run on 2 cores, add them for a long run), SEEDS (default
# "42 1 2"), DATASETS (default "mnist fashion-mnist"), BACKEND (default flex), EXTRA (more train
# flags for every run, e.g. "--batch-size 128" for a tuned row; default none). Each run uses the
# model's default config (its anchor's net and budget); the figure is the test loss of the last
# epoch (sparse-ae: also its test code mean).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AE_DATA_DIR:?set AE_DATA_DIR to the folder holding mnist/ and fashion-mnist/}"
export AE_DATA_DIR
MODELS=${MODELS:-dense-ae deep-ae vae linear-ae sparse-ae}
SEEDS=${SEEDS:-42 1 2}
DATASETS=${DATASETS:-mnist fashion-mnist}
BACKEND=${BACKEND:-flex}
read -r -a extra <<<"${EXTRA:-}"
cargo build --release --bin train -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The last value of a metrics.csv column.
last() { awk -F, -v col="$2" 'NR==1 {for (i=1;i<=NF;i++) if ($i==col) c=i} END {print $c}' "$1/metrics.csv"; }
stats() { awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; sd=(n>1)?sqrt((q-n*m*m)/(n-1)):0; printf "%.4f +- %.4f", m, sd}'; }

echo "| model | data set | seeds | test loss, mean +- sd | each seed |"
echo "|---|---|---|---|---|"
for d in $DATASETS; do
    for m in $MODELS; do
        figures=()
        for s in $SEEDS; do
            run="$out/$m-$d-$s"
            ./target/release/train "$m" --dataset "$d" --seed "$s" --backend "$BACKEND" \
                --no-dashboard --out "$run" "${extra[@]}" >"$run.log" 2>&1 || { cat "$run.log" >&2; exit 1; }
            f=$(last "$run" test_loss)
            [ "$m" = sparse-ae ] && f="$f (code mean $(last "$run" test_code_mean))"
            figures+=("$f")
        done
        mean=$(printf '%s\n' "${figures[@]}" | awk '{print $1}' | stats)
        echo "| $m | $d | ${SEEDS// /, } | $mean | $(IFS=';'; echo "${figures[*]}" | sed 's/;/; /g') |"
    done
done
echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPU cores, --backend $BACKEND"
