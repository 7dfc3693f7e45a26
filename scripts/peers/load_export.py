"""Loads `ae export`'s safetensors file into the PyTorch peer module and prints the test loss.

    cargo run --release --bin ae -- export runs/dense-ae
    python scripts/peers/load_export.py runs/dense-ae

The module is built from the run's config.json with torch_ae.py's layers (dense: one
nn.Sequential, each Linear followed by its activation; conv-ae: torch_ae.conv(), or
torch_ae.wide() for --arch wide; vae:
torch_ae.Vae), the weights are loaded with load_state_dict(strict=True), and the loss is
computed on the run's test set as `ae reconstruct` computes it: BCE with logits (or MSE of the
output) per pixel, for the VAE the negative ELBO per image with one draw of z.
"""

import argparse
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

import mnist
import torch_ae

ACT = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


def dense(d):
    """torch_ae.dense for the config's widths and activations."""
    enc = [d["input_dim"], *d["hidden"], d["latent_dim"]]
    widths = enc + enc[-2::-1]
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        last_enc, last = i == len(enc) - 2, i == len(widths) - 2
        if not last:
            layers.append(ACT[d["code_activation"] if last_enc else d["activation"]]())
    return nn.Sequential(*layers), d["output"]


def build(cfg):
    net = cfg["network"]
    kind = net["kind"]
    if kind == "dense":
        return dense(net)
    if kind == "sparse":
        return dense(net["dense"])
    if kind == "conv":
        return torch_ae.conv(), "sigmoid"
    if kind == "conv-wide":
        return torch_ae.wide(net["channels"]), "sigmoid"
    if kind == "vae" and net["arch"]["kind"] == "dense" and len(net["arch"]["hidden"]) == 1:
        return torch_ae.Vae(net["arch"]["hidden"][0], net["latent_dim"]), "sigmoid"
    raise SystemExit(f"error: the PyTorch peers have no module for this {kind} network")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="the run folder (holding config.json and ae/model.safetensors)")
    p.add_argument("--file", help="the safetensors file [default: <run>/ae/model.safetensors]")
    args = p.parse_args()
    cfg = json.load(open(os.path.join(args.run, "config.json")))
    model, output = build(cfg)
    model.load_state_dict(load_file(args.file or os.path.join(args.run, "ae", "model.safetensors")), strict=True)
    model.eval()
    x, _ = mnist.load("test", dataset=cfg["dataset"])
    if cfg.get("test_limit"):
        x = x[: cfg["test_limit"]]
    x = torch.from_numpy(x)
    torch.manual_seed(0)
    with torch.no_grad():
        if cfg["network"]["kind"] == "vae":
            loss = sum(model.loss(x[i : i + 500].reshape(-1, 784)) * len(x[i : i + 500]) for i in range(0, len(x), 500)) / len(x)
            unit = "nats per image, one draw of z per image"
        else:
            flat = cfg["network"]["kind"] not in ("conv", "conv-wide")
            xb = x.reshape(len(x), -1) if flat else x[:, None]
            raw = torch.cat([model(xb[i : i + 500]) for i in range(0, len(xb), 500)])
            if cfg["loss"] == "bce":
                loss = F.binary_cross_entropy_with_logits(raw, xb)
            else:
                out = torch.sigmoid(raw) if output == "sigmoid" else raw
                loss = F.mse_loss(out, xb)
            unit = "per pixel"
    print(f"test loss {loss.item():.5f} ({cfg['loss']}, {unit}) over {len(x)} test images, PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
