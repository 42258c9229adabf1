"""Ways to turn floats into fewer bits: 1-D k-means (weight sharing), linear (affine) quantization
at any granularity, low-precision data types, activation calibration, an integer linear layer, and the block number formats
models ship in (INT per group, NF4, OCP MX, NVFP4, llama.cpp's Q4_0 / Q8_0 / Q4_K) with Hadamard rotations.
Quantizers that need activations take them as arguments; nothing here loads a model."""
