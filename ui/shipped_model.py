"""The shipped autoencoder's weights and the MNIST digits, loaded once for every page that uses them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.models.mnist import load_split


@st.cache_resource(show_spinner="Loading the autoencoder's weights…")
def state_dict() -> dict[str, np.ndarray]:
    """Every tensor of the shipped model, {"fc1.weight": (1000, 784), …} float32, or {} until the model file exists."""
    from core.models import autoencoder  # imports torch: only when a page asks for the model

    return autoencoder.load_state_dict() if autoencoder.MODEL_PATH.exists() else {}


def layer_weights() -> dict[str, np.ndarray]:
    """{"fc1": (1000, 784), …} float32 from the shipped model (read once, by state_dict), or {} without it."""
    from core.models.autoencoder import weights_of

    state = state_dict()
    return weights_of(state) if state else {}


@st.cache_resource(show_spinner="Loading the MNIST digits…")
def mnist_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """core.models.mnist.load_split(): (train images (4500, 784), train labels, held-out images (500, 784), held-out labels)."""
    return load_split()


def stop_unless_shipped() -> None:
    """Show a notice and stop the page while the shipped model file is not there."""
    if not state_dict():
        st.info("The shipped autoencoder (models/autoencoder.safetensors) is not there yet.")
        st.stop()
