"""What a quantization costs: induced norms and condition numbers, divergence between weight
histograms, the bytes every stored form takes, per-pixel image error and model reconstruction error.
Imports nothing from the rest of `core` but the shared helpers (`core.checks`)."""
