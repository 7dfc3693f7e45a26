"""The project's MNIST autoencoders in PyTorch (eager), timed per training epoch.

    python scripts/peers/torch_ae.py conv-ae --epochs 3 --device cuda

Same nets, loss, optimiser and batch size as `cargo run --release --bin train -- <model>`
(see keras_ae.py for the list). The whole training set sits on the device; each epoch draws a
new permutation there and slices batches from it, and the loss is summed on the device and read
once per epoch, so nothing waits on the host inside an epoch. Prints each epoch's seconds and a
RESULT line (median of the epochs after the first).
"""

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

import mnist

# conv-ae:wide is `train conv-ae --arch wide` (scripts/speed-compare.sh's MODEL:ARCH).
BATCH = {"dense-ae": 256, "deep-ae": 256, "conv-ae": 128, "conv-ae:wide": 128, "vae": 128}


def dense(widths, latent):
    dims = [784, *widths, latent, *reversed(widths)]
    layers = []
    for a, b in zip(dims, dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(dims[-1], 784))  # logits; BCE with logits below


def conv():
    def c(i, o, pad=1):
        return nn.Conv2d(i, o, 3, padding=pad)

    pool = lambda: nn.MaxPool2d(2, ceil_mode=True)  # noqa: E731  28 -> 14 -> 7 -> 4
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731  4 -> 8 -> 16 -> (14) -> 28
    return nn.Sequential(
        c(1, 16), nn.ReLU(), pool(), c(16, 8), nn.ReLU(), pool(), c(8, 8), nn.ReLU(), pool(),
        c(8, 8), nn.ReLU(), up(), c(8, 8), nn.ReLU(), up(), c(8, 16, 0), nn.ReLU(), up(),
        c(16, 1),
    )


def wide(channels=32):
    """conv-ae --arch wide: keras.io's denoising net (32x7x7 code on MNIST)."""
    c = channels
    pool = lambda: nn.MaxPool2d(2, ceil_mode=True)  # noqa: E731  28 -> 14 -> 7
    up = lambda: nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1)  # noqa: E731  7 -> 14 -> 28
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), pool(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), pool(),
        up(), nn.ReLU(), up(), nn.ReLU(), nn.Conv2d(c, 1, 3, padding=1),
    )


class Vae(nn.Module):
    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.enc, self.mu, self.logvar = nn.Linear(784, hidden), nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec, self.out = nn.Linear(latent, hidden), nn.Linear(hidden, 784)

    def loss(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.out(F.relu(self.dec(z)))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return (recon + kl).mean()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(BATCH))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, help="default: the project's batch size for the model")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    batch = args.batch or BATCH[args.model]
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)

    x, _ = mnist.load("train")
    x = torch.from_numpy(x).to(dev)
    if args.model == "conv-ae":
        x, model = x[:, None], conv()
    elif args.model == "conv-ae:wide":
        x, model = x[:, None], wide()
    elif args.model == "vae":
        x, model = x.reshape(-1, 784), Vae()
    else:
        x, model = x.reshape(-1, 784), dense([] if args.model == "dense-ae" else [128, 64], 32)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def loss_of(xb):
        if args.model == "vae":
            return model.loss(xb)
        return F.binary_cross_entropy_with_logits(model(xb), xb)

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    seconds, losses = [], []
    n = x.shape[0]
    for _ in range(args.epochs):
        sync()
        started = time.perf_counter()
        order = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for i in range(0, n, batch):
            xb = x[order[i : i + batch]]
            loss = loss_of(xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        sync()
        seconds.append(time.perf_counter() - started)
        losses.append(total.item() / n)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU x{torch.get_num_threads()} threads"
    mnist.report(f"pytorch-{torch.__version__}", args.model, batch, name, seconds, losses)


if __name__ == "__main__":
    main()
