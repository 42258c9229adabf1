"""The networks and their data: the MNIST digits and their split, the shipped autoencoder with its
whole-model quantization, and the scripts that retrain the shipped weights."""
