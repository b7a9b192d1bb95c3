"""components/tuner.py: when 'auto' reuses the served hyperparameters, and what it hands on.

The serving dir holds versions as the Pusher leaves them (saved_model.pb, the data profile that
names the Transform output it was trained on, the hyperparameters record). The search itself
runs in the shared tiny pipeline run (tests/pipeline/test_end_to_end.py).
"""
import json
import os

import pytest
from tfx.types import standard_artifacts

from components import tuner
from contract import data_profile
from contract.names import HYPERPARAMETERS_FILE, WARM_START_WEIGHTS_FILE
from tests.support.executors import artifact

SPACE = {"units": [32, 64], "dropout": [0.2, 0.4], "cell": ["gru"], "num_layers": [1],
         "bidirectional": [True], "learning_rate": [0.002]}
TUNED = {"space": [], "values": {"units": 64, "dropout": 0.3}, "search_space": SPACE,
         "source": {"trials": 3, "seconds": 80.0}}


def _version(serving_dir, version: int, tuned, trained_with: str = "graph-1"):
    export = os.path.join(serving_dir, str(version))
    os.makedirs(os.path.join(export, "assets.extra"))
    with open(os.path.join(export, data_profile.PROFILE_FILE), "w") as out:
        json.dump({data_profile.TRANSFORM_GRAPH_KEY: trained_with}, out)
    with open(os.path.join(export, HYPERPARAMETERS_FILE), "w") as out:
        json.dump({"hyperparameters": {"units": 64}, "tuner": tuned}, out)
    with open(os.path.join(export, WARM_START_WEIGHTS_FILE), "wb") as out:
        out.write(b"weights")
    open(os.path.join(export, "saved_model.pb"), "wb").close()  # Written last by the Pusher.
    return export


def test_nothing_served_means_a_search(tmp_path):
    assert tuner.reusable(str(tmp_path / "empty"), SPACE, "graph-2") == (None, None)


def test_the_served_models_hyperparameters_are_reused_when_searched_in_the_same_space(
        tmp_path):
    _version(tmp_path, 1, TUNED)
    assert tuner.reusable(str(tmp_path), SPACE, "graph-2") == (1, TUNED)


@pytest.mark.parametrize("tuned, why", [
    ({**TUNED, "search_space": {**SPACE, "units": [32, 64, 128]}}, "another space"),
    (None, "trained with the model flags as given (--tuning fixed)"),
])
def test_a_served_model_chosen_otherwise_means_a_search(tmp_path, tuned, why):
    _version(tmp_path, 1, tuned)
    assert tuner.reusable(str(tmp_path), SPACE, "graph-2") == (1, None), why


def test_a_version_trained_on_this_very_data_is_passed_over(tmp_path):
    """A rerun on unchanged data: the first run's own push is not a reason to stop searching
    (the decision, and so the local cache key, stays what it was)."""
    _version(tmp_path, 1, TUNED, trained_with="graph-1")
    _version(tmp_path, 2, TUNED, trained_with="graph-2")
    assert tuner.reusable(str(tmp_path), SPACE, "graph-2") == (1, TUNED)
    assert tuner.reusable(str(tmp_path), SPACE, "graph-1") == (2, TUNED)
    assert tuner.reusable(str(tmp_path / "1"), SPACE, "graph-1") == (None, None)


def _outputs(tmp_path):
    return {"best_hyperparameters": [artifact(standard_artifacts.HyperParameters,
                                              str(tmp_path / "best"))],
            "tuner_results": [artifact(standard_artifacts.TunerResults,
                                       str(tmp_path / "results"))],
            "model": [artifact(standard_artifacts.Model, str(tmp_path / "model"))]}


def _properties(serving_dir, mode="auto"):
    return {"mode": mode, "serving_dir": str(serving_dir), "models_config": "",
            "model_name": "imdb", "custom_config": json.dumps({"search_space": SPACE}),
            "tuner_fn": "tests.components.test_tuner.no_search"}


def no_search(fn_args):
    raise AssertionError("the Tuner searched although it should have reused")


@pytest.mark.parametrize("warm_start", [False, True])
def test_reuse_writes_the_served_values_and_hands_on_the_served_weights_with_warm_start(
        tmp_path, warm_start):
    serving = tmp_path / "serving"
    served = _version(serving, 4, TUNED)
    inputs = {"transform_graph": [artifact(standard_artifacts.TransformGraph, "graph-2")]}
    if warm_start:
        base = artifact(standard_artifacts.Model, str(tmp_path / "served_copy"))
        os.makedirs(base.uri)
        os.symlink(served, os.path.join(base.uri, "Format-Serving"))
        inputs["base_model"] = [base]
    outputs = _outputs(tmp_path)
    for directory in ("best", "results", "model"):
        os.makedirs(tmp_path / directory)
    tuner.TunerExecutor().Do(inputs, outputs, _properties(serving))

    best = json.load(open(tmp_path / "best" / tuner.BEST_HPARAMS_FILE))
    assert best["values"] == TUNED["values"] and best["search_space"] == SPACE
    assert best["source"] == {"reused_from_version": 4, "trials": 0, "seconds": 0.0}
    assert json.load(open(tmp_path / "results" / "tuner_results.json")) == []
    handed_on = tmp_path / "model" / "Format-Serving" / WARM_START_WEIGHTS_FILE
    assert handed_on.exists() == warm_start
    if warm_start:
        assert handed_on.read_bytes() == b"weights"


def test_tune_mode_searches_even_when_the_space_is_the_same(tmp_path):
    serving = tmp_path / "serving"
    _version(serving, 4, TUNED)
    for directory in ("best", "results", "model"):
        os.makedirs(tmp_path / directory)
    inputs = {"transform_graph": [artifact(standard_artifacts.TransformGraph, "graph-2")],
              "examples": [artifact(standard_artifacts.Examples, str(tmp_path / "examples"),
                                    split_names='["train", "eval"]')]}
    properties = {**_properties(serving, mode="tune"), "train_args": "{}", "eval_args": "{}"}
    context = tuner.TunerExecutor.Context(tmp_dir=str(tmp_path / "tmp") + "/",
                                          unique_id="Tuner")
    with pytest.raises(AssertionError, match="searched although"):
        tuner.TunerExecutor(context).Do(inputs, _outputs(tmp_path), properties)


def test_the_component_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        tuner.Tuner(examples=None, transform_graph=None, schema=None, tuner_fn="x",
                    custom_config={}, mode="reuse", serving_dir="s", train_args=None,
                    eval_args=None)
