"""A model's weights as handed in by a caller: checked once, at the boundary."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from core.checks import finite_array


def checked_state_dict(state_dict: Mapping[str, object], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The tensors of `state_dict` named in `shapes` (numpy arrays or torch tensors) as finite float32 arrays of
    those shapes, or ValueError naming the missing tensor, the wrong shape or the non-finite value."""
    missing = [name for name in shapes if name not in state_dict]
    if missing:
        raise ValueError(f"state_dict must hold {', '.join(shapes)}; missing {', '.join(missing)}")
    arrays = {}
    for name, shape in shapes.items():
        value = state_dict[name]
        array = finite_array(value.detach().numpy() if isinstance(value, torch.Tensor) else value, f"state_dict[{name!r}]")
        if array.shape != shape:
            raise ValueError(f"state_dict[{name!r}] must have shape {shape}; got {array.shape}")
        arrays[name] = array.astype(np.float32, copy=False)
    return arrays
