"""Real MNIST from the IDX files the Rust side reads (mnist/*-ubyte.gz under AE_DATA_DIR)."""

import gzip
import os
import struct
import sys

import numpy as np

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, kind, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(split, data_dir=None, dataset="mnist"):
    """Images as float32 in [0, 1], shape [n, 28, 28], and labels, shape [n]."""
    data_dir = data_dir or os.environ.get("AE_DATA_DIR", "../shared/datasets")
    folder = os.path.join(data_dir, dataset)
    images, labels = FILES[split]
    found = []
    for name in (images, labels):
        for candidate in (name, name[:-3]):
            if os.path.exists(os.path.join(folder, candidate)):
                found.append(os.path.join(folder, candidate))
                break
        else:
            sys.exit(f"error: {name} not found in {folder}; set AE_DATA_DIR to the folder holding {dataset}/")
    x = _read_idx(found[0]).astype(np.float32) / 255.0
    return x, _read_idx(found[1]).astype(np.int64)


def report(framework, model, batch, device, epoch_seconds, losses):
    """One line per epoch, then a summary line the comparison script reads."""
    for i, (s, l) in enumerate(zip(epoch_seconds, losses), 1):
        print(f"epoch {i}: {s:.3f} s  train loss {l:.4f}", flush=True)
    later = sorted(epoch_seconds[1:] or epoch_seconds)
    median = later[len(later) // 2] if len(later) % 2 else sum(later[len(later) // 2 - 1 : len(later) // 2 + 1]) / 2
    print(
        f"RESULT framework={framework} model={model} batch={batch} device={device} "
        f"epochs={len(epoch_seconds)} median_s_per_epoch={median:.3f} (epochs after the first)",
        flush=True,
    )
