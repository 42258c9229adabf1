"""Codebook fine-tuning: the centroid gradient is the sum of its weights' gradients (paper Eq. 3, checked
against a numpy group-sum of torch's dense gradient); retraining keeps pruned weights at 0 and shared
weights shared. Training here is two small batches, enough to see the invariants hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.compress.finetune import finetune_codebooks, retrain_pruned, shared_weight_tensor
from core.compress.networks import network
from core.compress.prune import magnitude_mask
from core.compress.sharing import share_weights


@pytest.fixture(scope="module")
def lenet():
    net = network("lenet_300_100")
    train_inputs, train_targets, _, _ = net.data()
    return net, net.load_state_dict(), train_inputs[:128], train_targets[:128]


def test_centroid_gradient_is_the_sum_of_its_weights_gradients(lenet) -> None:
    net, state, inputs, targets = lenet
    mask = magnitude_mask(state["ip2.weight"], 0.2)
    shared = share_weights(state["ip2.weight"], mask, bits=4)
    codebook = torch.tensor(shared.codebook, requires_grad=True)
    labels = torch.from_numpy(shared.labels.astype(np.int64))
    tensors = {name: torch.from_numpy(array) for name, array in state.items()}

    tensors["ip2.weight"] = shared_weight_tensor(codebook, labels)
    net.loss(net.forward(tensors, torch.from_numpy(inputs)), torch.from_numpy(targets)).backward()

    dense = torch.tensor(shared.dense(), requires_grad=True)
    tensors["ip2.weight"] = dense
    net.loss(net.forward(tensors, torch.from_numpy(inputs)), torch.from_numpy(targets)).backward()
    # Eq. 3: dL/dC_k = sum over weights with label k of dL/dW; code 0 (pruned) has no centroid.
    expected = np.bincount(shared.labels.ravel(), weights=dense.grad.numpy().ravel(), minlength=shared.codebook.size + 1)[1:]
    np.testing.assert_allclose(codebook.grad.numpy(), expected, rtol=1e-4, atol=1e-7)


def test_retraining_keeps_pruned_weights_at_zero(lenet) -> None:
    net, state, inputs, targets = lenet
    masks = {name: magnitude_mask(state[name], 0.1) for name in ("ip1.weight", "ip2.weight")}
    retrained = retrain_pruned(net, state, masks, inputs, targets, epochs=1)
    for name, mask in masks.items():
        assert (retrained[name][~mask] == 0).all()
        assert not np.array_equal(retrained[name][mask], state[name][mask])  # the kept weights did train
    assert not np.array_equal(retrained["ip3.weight"], state["ip3.weight"])


def test_finetuning_moves_centroids_and_keeps_assignments(lenet) -> None:
    net, state, inputs, targets = lenet
    shared = {name: share_weights(state[name], magnitude_mask(state[name], 0.3), bits=3) for name in ("ip1.weight", "ip2.weight", "ip3.weight")}
    start = {name: shared[name].dense() if name in shared else array for name, array in state.items()}
    tuned, tuned_state = finetune_codebooks(net, start, shared, inputs, targets, epochs=1)
    for name, layer in tuned.items():
        assert np.array_equal(layer.labels, shared[name].labels)
        assert not np.array_equal(layer.codebook, shared[name].codebook)
        np.testing.assert_array_equal(tuned_state[name], layer.dense())
        assert (tuned_state[name][layer.labels == 0] == 0).all()
