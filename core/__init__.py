"""Quantization Explorer's library: plain numpy/torch functions, no Streamlit."""
