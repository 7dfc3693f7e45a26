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
printf 'z0,z1,z2,z3,z4,z5,z6,z7,z8,z9,z10,z11,z12,z13,z14,z15,z16,z17,z18,z19\n' > runs/thought.csv
for i in 0 1 2 3 4 5 6 7 8 9; do
  row=$(for j in $(seq 0 19); do if [ "$j" -eq "$((2 * i))" ]; then printf '2.5'; else printf '0'; fi; [ "$j" -lt 19 ] && printf ','; done)
  echo "$row" >> runs/thought.csv
done
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
