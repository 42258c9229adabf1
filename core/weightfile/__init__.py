"""Your weights: read a weight file (safetensors, sharded folders, .npz/.npy) one tensor at a time with
every header length and offset checked, report how much error each tensor takes at 2…8 bits per
method, allocate bits under a size budget (exactly, on the convex hull), and export the quantized file.
Uses `quantize` and `measure`; run it as `python -m core.weightfile PATH`."""
