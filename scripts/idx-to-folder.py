#!/usr/bin/env python3
"""Writes an MNIST-like IDX data set out as a folder of PNG files, to try `--dataset folder`
on pictures whose IDX route is known (Python's standard library only).

    python3 scripts/idx-to-folder.py ../shared/datasets/fashion-mnist /tmp/fashion-png
    python3 scripts/idx-to-folder.py ../shared/datasets/fashion-mnist /tmp/fashion-labelled --labels

Writes OUT/train/ and OUT/test/ (so `train` uses them as the two splits). Flat by default:
OUT/train/00000.png, 00001.png, ... in the IDX order, which the folder reader keeps (it sorts by
path), so a run on the folder sees the same images in the same order as a run on the IDX files
and must reach the same figures. With --labels each image goes into a subfolder named after its
class (OUT/train/7/00017.png): the ImageFolder layout, with labels for `ae probe` and
`ae latent-map`, but in class order.
"""

import argparse
import gzip
import os
import struct
import sys
import zlib

SPLITS = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABELS = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}


def read_idx(folder, stem):
    """The dims and bytes of an IDX file (gzipped or not)."""
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"error: {folder}: no {stem}(.gz)")
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        sys.exit(f"error: {folder}/{stem}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = data[4 + 4 * ndim :]
    count = 1
    for d in dims:
        count *= d
    if len(body) != count:
        sys.exit(f"error: {folder}/{stem}: {len(body)} bytes where the header says {count}")
    return dims, body


def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_grey(rows, cols, pixels):
    """An 8-bit greyscale PNG of `rows` x `cols` pixels."""
    raw = b"".join(b"\x00" + pixels[r * cols : (r + 1) * cols] for r in range(rows))
    header = struct.pack(">IIBBBBB", cols, rows, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("idx_dir", help="folder with the four IDX files (e.g. .../fashion-mnist)")
    p.add_argument("out", help="folder to write train/ and test/ into (must not exist)")
    p.add_argument("--labels", action="store_true", help="one subfolder per class")
    args = p.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"error: {args.out} exists; give a new folder")
    for split, stem in SPLITS.items():
        (n, rows, cols), pixels = read_idx(args.idx_dir, stem)
        _, labels = read_idx(args.idx_dir, LABELS[split])
        size = rows * cols
        for i in range(n):
            folder = os.path.join(args.out, split)
            if args.labels:
                folder = os.path.join(folder, str(labels[i]))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{i:05d}.png"), "wb") as f:
                f.write(png_grey(rows, cols, pixels[i * size : (i + 1) * size]))
        print(f"{split}: {n} images of {rows}x{cols} in {os.path.join(args.out, split)}")


if __name__ == "__main__":
    main()
