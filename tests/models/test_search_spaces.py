"""The shipped search spaces: they load, name only parameters something reads, cover the
guide's table, and every CNN shape they allow fits; sampled configurations build."""

from __future__ import annotations

import itertools
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data.preprocess import PreprocessOptions
from hpsearch.models import get_builder
from hpsearch.models.cnn import conv_lengths
from hpsearch.models.common import ACTIVATIONS, OPTIMIZERS
from hpsearch.space.loader import load_space
from hpsearch.training import TRAINER_PARAMETERS

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
MODELS = ("mlp", "cnn", "lstm")
PREPROCESS = {f.name for f in fields(PreprocessOptions)}


def values(space, name: str) -> list:
    """Every value a parameter can take (categorical choices or ordinal values)."""
    return [*space.to_dict()["parameters"][name].get("choices", [])] or [
        *space.to_dict()["parameters"][name].get("values", [])
    ]


@pytest.mark.parametrize("model", MODELS)
def test_space_names_only_parameters_that_are_read(model: str) -> None:
    space = load_space(SPACES / f"{model}.yaml")
    known = set(get_builder(model).parameters) | set(TRAINER_PARAMETERS) | PREPROCESS
    assert set(space.names) <= known, set(space.names) - known


@pytest.mark.parametrize("model", MODELS)
def test_space_covers_the_guides_table(model: str) -> None:
    space = load_space(SPACES / f"{model}.yaml")
    for name in (
        "optimizer",
        "learning_rate",
        "batch_size",
        "n_layers",
        "units",
        "activation",
        "l1",
        "l2",
        "activity_l1",
        "activity_l2",
        "dropout",
        "epochs",
        "patience",
        "min_delta",
        "preselect_top_k",
    ):
        assert name in space, name
    assert set(values(space, "optimizer")) == set(OPTIMIZERS)
    assert set(values(space, "activation")) == set(ACTIVATIONS)
    for name in ("momentum", "nesterov"):
        assert space.conditions(name) == [("optimizer", ["sgd"])]
    for name in ("l1", "l2", "activity_l1", "activity_l2"):
        assert 0 in values(space, name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = space.sample(rng)
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
        space.validate(params)


def test_lstm_space_is_cheap_and_cnn_kernels_are_small() -> None:
    lstm = load_space(SPACES / "lstm.yaml")
    assert 0 not in values(lstm, "preselect_top_k") and max(values(lstm, "preselect_top_k")) <= 200
    mlp = load_space(SPACES / "mlp.yaml")
    assert (
        lstm.sample(np.random.default_rng(0))["epochs"]
        < mlp.sample(np.random.default_rng(0))["epochs"]
    )
    cnn = load_space(SPACES / "cnn.yaml")
    assert 3 in range(cnn["kernel_size"].low, cnn["kernel_size"].high + 1)


def test_every_cnn_shape_in_the_space_fits_the_smallest_preselection() -> None:
    space = load_space(SPACES / "cnn.yaml")
    smallest = min(k for k in values(space, "preselect_top_k") if k) or 1279
    kernel = space["kernel_size"]
    options = itertools.product(
        range(space["conv_layers"].low, space["conv_layers"].high + 1),
        range(kernel.low, kernel.high + 1),
        values(space, "strides"),
        values(space, "pool_size"),
    )
    for conv_layers, kernel_size, strides, pool_size in options:
        lengths = conv_lengths(
            smallest,
            conv_layers=conv_layers,
            kernel_size=kernel_size,
            strides=strides,
            pool_size=pool_size,
        )
        assert lengths[-1] >= 1


@pytest.mark.integration
@pytest.mark.parametrize("model", MODELS)
def test_sampled_configurations_build(model: str) -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras")
    space = load_space(SPACES / f"{model}.yaml")
    builder = get_builder(model)
    rng = np.random.default_rng(1)
    for _ in range(3):
        params = space.sample(rng)
        n = params.get("preselect_top_k") or 1279
        shape = (n,) if builder.input_rank == 1 else (n, 1)
        keras.backend.clear_session(free_memory=False)
        model_ = builder(params, input_shape=shape, n_outputs=1, task="regression")
        assert model_.compiled
