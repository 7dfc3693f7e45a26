#!/usr/bin/env bash
# Trains the runs behind the README's pictures and draws them into assets/ with `ae`.
# Needs the data sets (AE_DATA_DIR or a download). About 10 minutes on a 2-core CPU (flex).
#   bash scripts/readme-assets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin train --bin ae
train=target/release/train
ae=target/release/ae
b=(--backend "${BACKEND:-auto}")
mkdir -p assets runs

[ -f runs/dense-ae/model.bpk ] || $train dense-ae "${b[@]}" --out runs/dense-ae --no-dashboard --overwrite
[ -f runs/vae/model.bpk ] || $train vae "${b[@]}" --out runs/vae --no-dashboard --overwrite
[ -f runs/vae-2d/model.bpk ] || $train vae --latent-dim 2 --epochs 20 "${b[@]}" --out runs/vae-2d --no-dashboard --overwrite
[ -f runs/sparse-ae/model.bpk ] || $train sparse-ae "${b[@]}" --out runs/sparse-ae --no-dashboard --overwrite

$ae reconstruct runs/dense-ae "${b[@]}" --out assets/reconstruct.png
$ae encode runs/dense-ae "${b[@]}"
# Made-up thought vectors for the 20-D VAE: code axis 2i set to 2.5, the rest 0, for i = 0..9.
{
  seq -s, 0 19 | sed 's/[0-9]*/z&/g'
  for i in $(seq 0 9); do
    seq 0 19 | awk -v k=$((2 * i)) '{ printf "%s%s", (NR > 1 ? "," : ""), ($1 == k ? "2.5" : "0") } END { print "" }'
  done
} > runs/thought.csv
$ae decode runs/vae runs/thought.csv "${b[@]}" --out assets/decode.png
$ae sample runs/vae "${b[@]}" --out assets/sample.png
$ae interpolate runs/vae --from 3 --to 2 --steps 10 "${b[@]}" --out assets/interpolate.png
$ae average runs/vae "${b[@]}" --out assets/average.png
$ae latent-map runs/vae-2d "${b[@]}" --out assets/latent-map.png
$ae latent-map runs/vae "${b[@]}" --out assets/latent-map-pca.png
$ae manifold runs/vae-2d "${b[@]}" --out assets/manifold.png
$ae features runs/sparse-ae "${b[@]}" --count 64 --out assets/features.png
$ae probe runs/dense-ae "${b[@]}" --out runs/dense-ae/ae/probe.json
$ae compress runs/dense-ae "${b[@]}" --out assets/compress.png
$ae ood runs/dense-ae "${b[@]}" --out assets/ood.png
