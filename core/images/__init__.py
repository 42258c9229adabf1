"""Images and their palettes: decoding and validating uploads (`io`), k-means colour palettes
(`palette`), and the error of a palette against its size (`palette_curve`)."""
