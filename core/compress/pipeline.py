"""The whole Deep Compression pipeline on one network, with the real bytes and the held-out score after
every stage: float32 -> pruned (sparse, relative index) -> + weight sharing -> + fine-tuned codebooks ->
+ Huffman. Also the paper's experiments: per-layer pruning sensitivity, the three centroid
initialisations against bits, and conv vs FC layers against bits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from core.checks import bits as check_bits
from core.checks import integer_in_range
from core.compress.dcfile import load_compressed, read_header, save_compressed
from core.compress.finetune import finetune_codebooks, retrain_pruned
from core.compress.networks import Network, network
from core.compress.prune import kept_fraction, magnitude_mask
from core.compress.sharing import INITIALISATIONS, SharedWeights, share_weights
from core.compress.sparse import MAX_INDEX_BITS
from core.quantize.kmeans import kmeans_1d

Progress = Callable[[float, str], None]
STAGES = ("float32", "pruned", "+ weight sharing", "+ fine-tuned", "+ Huffman")


@dataclass(frozen=True)
class Settings:
    """What the pipeline does to each layer, and how long it retrains."""

    kept: dict[str, float]
    """Fraction of each layer's weights kept by magnitude pruning, 0…1."""
    weight_bits: dict[str, int]
    """Bits of each layer's codes (2^bits - 1 shared values plus the zero), 1…8."""
    index_bits: dict[str, int]
    """Bits of each layer's relative index (gap to the previous kept weight), 1…16."""
    init: str = "linear"
    """Centroid initialisation, one of core.compress.sharing.INITIALISATIONS."""
    finetune: bool = True
    """Fine-tune the codebooks after weight sharing."""
    prune_steps: int = 4
    """Iterative pruning: step i of n keeps kept^(i/n) of each layer, then retrains (Han et al. 2015)."""
    retrain_epochs: int = 4
    """Epochs of retraining after each pruning step."""
    finetune_epochs: int = 4
    seed: int = 0

    def checked(self, net: Network) -> Settings:
        """These settings with every layer of `net` given and in range, or ValueError naming the culprit."""
        layers = tuple(net.layer_shapes)
        for name, table in (("kept", self.kept), ("weight_bits", self.weight_bits), ("index_bits", self.index_bits)):
            if set(table) != set(layers):
                raise ValueError(f"{name} must give a value for each of {', '.join(layers)}; got {', '.join(map(str, table))}")
        if self.init not in INITIALISATIONS:
            raise ValueError(f"init must be one of {', '.join(INITIALISATIONS)}; got {self.init!r}")
        return Settings(
            {layer: kept_fraction(self.kept[layer], f"kept[{layer!r}]") for layer in layers},
            {layer: check_bits(self.weight_bits[layer], f"weight_bits[{layer!r}]") for layer in layers},
            {layer: integer_in_range(self.index_bits[layer], f"index_bits[{layer!r}]", 1, MAX_INDEX_BITS) for layer in layers},
            self.init,
            bool(self.finetune),
            integer_in_range(self.prune_steps, "prune_steps", 1, 20),
            integer_in_range(self.retrain_epochs, "retrain_epochs", 0, 100),
            integer_in_range(self.finetune_epochs, "finetune_epochs", 0, 100),
            integer_in_range(self.seed, "seed", 0, 2**32 - 1),
        )


@dataclass(frozen=True)
class Stage:
    name: str
    bytes: int
    """Length of the real .dc file of this stage."""
    score: float
    """Held-out accuracy (fraction) or MSE of the weights the file decodes to."""


@dataclass(frozen=True)
class Result:
    """What the pipeline produced: every stage's bytes and score, the final file, and its per-layer table."""

    model: str
    settings: dict
    stages: list[Stage]
    file: bytes
    """The final .dc file (pruned, shared, fine-tuned if asked, Huffman-coded)."""
    layers: list[dict] = field(default_factory=list)
    """Per layer: the paper's Table 2 columns, measured on the final file (see `layer_table`)."""
    pruned: dict[str, np.ndarray] = field(default_factory=dict)
    """The state dict after pruning and retraining, before weight sharing (for `initialisation_sweep`)."""

    def ratio(self, stage: str = "+ Huffman") -> float:
        """float32 file bytes / this stage's file bytes."""
        sizes = {s.name: s.bytes for s in self.stages}
        return sizes["float32"] / sizes[stage]


def _weight_names(net: Network) -> dict[str, str]:
    return {layer: f"{layer}.weight" for layer in net.layer_shapes}


def layer_table(data: bytes, float_bytes: int) -> list[dict]:
    """Per layer of a Huffman-coded .dc file: weights, kept weights (nonzero after decoding: the stored entries
    also count filler zeros), weight bits and index bits before and after Huffman (bits per entry, from the
    blocks' real lengths), the layer's bytes (blocks + tables + codebook + biases), its share of the file,
    and its bytes over the model's float32 bytes."""
    header, _ = read_header(data)
    state = load_compressed(data)
    rows: dict[str, dict] = {}
    for entry in header["tensors"]:
        layer, kind = entry["name"].rsplit(".", 1)
        blocks = sum(value[1] for key, value in entry.items() if isinstance(value, list) and key != "shape")
        row = rows.setdefault(layer, {"layer": layer, "bytes": 0})
        row["bytes"] += blocks
        if kind == "weight" and "entries" in entry:
            weights, entries = int(np.prod(entry["shape"])), entry["entries"]
            row.update(
                weights=weights,
                entries=entries,
                kept=int(np.count_nonzero(state[entry["name"]])),
                weight_bits=entry.get("weight_bits", 32),
                index_bits=entry["index_bits"],
                weight_bits_huffman=8 * entry["codes"][1] / max(entries, 1) if "codes" in entry else None,
                index_bits_huffman=8 * entry["gaps"][1] / max(entries, 1),
            )
    for row in rows.values():
        row["share"] = row["bytes"] / len(data)
        row["of_float"] = row["bytes"] / float_bytes
    return list(rows.values())


def _score_file(net: Network, data: bytes, inputs: np.ndarray, targets: np.ndarray) -> float:
    return net.score(load_compressed(data), inputs, targets)


def compress(model: str, settings: Settings, progress: Progress | None = None) -> Result:
    """Run the pipeline on the shipped weights of `model` (one of core.compress.networks.NETWORK_NAMES) with
    `settings`; every stage is written as a real .dc file and scored on the 500 held-out digits after
    decoding it. progress(fraction, text) is called along the way."""
    net = network(model)
    settings = settings.checked(net)
    report = progress or (lambda fraction, text: None)
    train_inputs, train_targets, heldout_inputs, heldout_targets = net.data()
    names = _weight_names(net)
    index_bits = {names[layer]: bits for layer, bits in settings.index_bits.items()}
    stages: list[Stage] = []

    def record(name: str, data: bytes) -> None:
        stages.append(Stage(name, len(data), _score_file(net, data, heldout_inputs, heldout_targets)))

    state = net.load_state_dict()
    record("float32", save_compressed(model, state))
    steps = settings.prune_steps
    for step in range(1, steps + 1):
        report(0.02 + 0.6 * (step - 1) / steps, f"pruning, step {step} of {steps}")
        masks = {names[layer]: magnitude_mask(state[names[layer]], kept ** (step / steps)) for layer, kept in settings.kept.items()}
        state = {name: np.where(masks[name], array, 0).astype(np.float32) if name in masks else array for name, array in state.items()}
        if settings.retrain_epochs:
            state = retrain_pruned(
                net, state, masks, train_inputs, train_targets, settings.retrain_epochs, seed=settings.seed + step,
                progress=lambda fraction, text: report(0.02 + 0.6 * (step - 1 + fraction) / steps, f"step {step} of {steps}: {text}"),
            )
    record("pruned", save_compressed(model, state, masks=masks, index_bits=index_bits, huffman_coded=False))
    pruned = state
    report(0.65, "sharing weights")
    shared = {
        names[layer]: share_weights(state[names[layer]], masks[names[layer]], settings.weight_bits[layer], settings.init, settings.seed)
        for layer in net.layer_shapes
    }
    state = {name: shared[name].dense() if name in shared else array for name, array in state.items()}
    record("+ weight sharing", save_compressed(model, state, shared=shared, index_bits=index_bits, huffman_coded=False))
    if settings.finetune and settings.finetune_epochs:
        shared, state = finetune_codebooks(
            net, state, shared, train_inputs, train_targets, settings.finetune_epochs, seed=settings.seed,
            progress=lambda fraction, text: report(0.67 + 0.3 * fraction, text),
        )
    record("+ fine-tuned", save_compressed(model, state, shared=shared, index_bits=index_bits, huffman_coded=False))
    report(0.98, "Huffman coding")
    final = save_compressed(model, state, shared=shared, index_bits=index_bits, huffman_coded=True)
    record("+ Huffman", final)
    report(1.0, "done")
    return Result(model, asdict(settings), stages, final, layer_table(final, stages[0].bytes), pruned)


def sensitivity(model: str, fractions: Sequence[float] = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02), progress: Progress | None = None) -> dict[str, list[float]]:
    """Held-out score of the shipped model with one layer alone pruned to each kept fraction, no retraining
    (the paper's Fig. 5): {layer: [score per fraction]}."""
    net = network(model)
    state = net.load_state_dict()
    _, _, inputs, targets = net.data()
    fractions = [kept_fraction(value, "fractions") for value in fractions]
    scores: dict[str, list[float]] = {}
    for index, layer in enumerate(net.layer_shapes):
        if progress is not None:
            progress(index / len(net.layer_shapes), f"pruning {layer} alone")
        name = f"{layer}.weight"
        scores[layer] = [
            net.score({**state, name: np.where(magnitude_mask(state[name], fraction), state[name], 0)}, inputs, targets)
            for fraction in fractions
        ]
    return scores


def initialisation_sweep(
    model: str,
    pruned: Mapping[str, np.ndarray],
    bit_widths: Sequence[int] = tuple(range(2, 9)),
    inits: Sequence[str] = ("linear", "density", "random", "kmeans"),
    finetune_epochs: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Held-out score of a pruned model (its zeros are the masks) with every layer shared at each bit width
    from each initialisation, before and after `finetune_epochs` of codebook fine-tuning:
    {"before": {init: [score per width]}, "after": {...}}."""
    net = network(model)
    train_inputs, train_targets, inputs, targets = net.data()
    names = _weight_names(net)
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    total = len(inits) * len(bit_widths)
    for i, init in enumerate(inits):
        for key in results:
            results[key][init] = []
        for j, width in enumerate(bit_widths):
            if progress is not None:
                progress((i * len(bit_widths) + j) / total, f"{init} at {width} bits")
            shared = {name: share_weights(pruned[name], pruned[name] != 0, width, init, seed) for name in names.values()}
            state = {name: shared[name].dense() if name in shared else np.asarray(array) for name, array in pruned.items()}
            results["before"][init].append(net.score(state, inputs, targets))
            if finetune_epochs:
                _, state = finetune_codebooks(net, state, shared, train_inputs, train_targets, finetune_epochs, seed=seed)
            results["after"][init].append(net.score(state, inputs, targets))
    return results


def bits_by_layer_kind(model: str, bit_widths: Sequence[int] = tuple(range(1, 9)), progress: Progress | None = None) -> dict[str, list[float]]:
    """Held-out score of the shipped float model with only its conv layers, or only its FC layers, shared by
    1-D k-means at each bit width (2^bits values per layer, no pruning, no retraining): {"conv": [...], "fc": [...]}."""
    net = network(model)
    state = net.load_state_dict()
    _, _, inputs, targets = net.data()
    groups = {"conv": [l for l, shape in net.layer_shapes.items() if len(shape) == 4], "fc": [l for l, shape in net.layer_shapes.items() if len(shape) == 2]}
    results: dict[str, list[float]] = {}
    for g, (group, layers) in enumerate(groups.items()):
        results[group] = []
        for j, width in enumerate(bit_widths):
            if progress is not None:
                progress((g * len(bit_widths) + j) / (2 * len(bit_widths)), f"{group} layers at {width} bits")
            quantized = dict(state)
            for layer in layers:
                centroids, labels = kmeans_1d(state[f"{layer}.weight"], 2 ** check_bits(width))
                quantized[f"{layer}.weight"] = centroids.astype(np.float32)[labels]
            results[group].append(net.score(quantized, inputs, targets))
    return results
