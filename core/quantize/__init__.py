"""Ways to turn floats into fewer bits: 1-D k-means (weight sharing), linear (affine) quantization
at any granularity, low-precision data types, activation calibration, and an integer linear layer.
Quantizers that need activations take them as arguments; nothing here loads a model."""
