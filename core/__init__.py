"""Quantization Explorer's library: plain numpy/torch functions, no Streamlit.

Sub-packages: `measure` (what a quantization costs), `quantize` (floats to fewer bits), `images`
(palettes), `models` (networks and data). The helpers every package uses stay at the top:
`checks` (input validation), `content_cache` (a content-keyed LRU), `distributions` (seeded samples)."""
