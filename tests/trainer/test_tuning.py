import keras_tuner as kt
import pytest

from trainer.hparams import ModelHParams
from trainer.training import resolve_hparams
from pipeline.config import PipelineConfig
from trainer.tuning import hparams_from_hp, make_tuner

SEARCH_SPACE = PipelineConfig(tune_cells=("gru", "lstm")).search_space()


def test_search_space_declares_units_dropout_and_more():
    hp = kt.HyperParameters()
    base = ModelHParams(pooling="last", dense_units=16)
    hparams = hparams_from_hp(hp, base, SEARCH_SPACE)
    names = {p.name for p in hp.space}
    assert {"units", "dropout", "cell", "num_layers", "bidirectional", "learning_rate"} <= names
    assert hparams.units in SEARCH_SPACE["units"]
    assert hparams.pooling == "last" and hparams.dense_units == 16  # Not searched: from config.


def test_trainer_applies_tuned_values_over_config():
    hp = kt.HyperParameters()
    hp.Fixed("units", 96)
    hp.Fixed("cell", "lstm")
    hp.Fixed("dropout", 0.4)
    hparams = resolve_hparams(ModelHParams(units=32).to_dict(), hp.get_config())
    assert (hparams.units, hparams.cell, hparams.dropout) == (96, "lstm", 0.4)


@pytest.mark.parametrize("algorithm,tuner_class", [
    ("random", kt.RandomSearch), ("bayesian", kt.BayesianOptimization),
    ("hyperband", kt.Hyperband)])
def test_algorithms(tmp_path, algorithm, tuner_class):
    def build(hp):
        from trainer.models import build_model

        return build_model(hparams_from_hp(hp, ModelHParams(), SEARCH_SPACE), 10)

    tuner = make_tuner(algorithm, build, max_trials=2, epochs=1, directory=str(tmp_path),
                       seed=0)
    assert isinstance(tuner, tuner_class)
    assert tuner.oracle.objective.name == "val_accuracy"
    with pytest.raises(ValueError, match="algorithm"):
        make_tuner("grid", build, 2, 1, str(tmp_path / "x"), 0)


def test_tuner_booleans_and_numbers_are_normalized():
    hparams = ModelHParams.from_dict({"bidirectional": 1, "units": 32.0, "unknown_key": 3})
    assert hparams.bidirectional is True and isinstance(hparams.units, int)
    # Keras Tuner's Float(0.2, 0.5, step=0.1) hands out 0.30000000000000004.
    assert ModelHParams.from_dict({"dropout": 0.1 + 0.2}).dropout == 0.3


def test_trial_lines_carry_no_ansi_codes_outside_ipython():
    """Keras Tuner clears a 'notebook cell' before each 'Trial N Complete' line; in a plain
    process that wrote ESC[2K codes into logs."""
    import subprocess
    import sys

    code = ("import contextlib, io\n"
            "from keras_tuner.src import utils\n"
            "from trainer.tuning import plain_trial_output\n"
            "plain_trial_output()\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    utils.try_clear()\n"
            "print(repr(out.getvalue()))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == repr("\n")


def test_every_trial_starts_from_the_same_random_state():
    """Trials differ by their hyperparameters, not by their initial weights' luck."""
    import numpy as np
    import tensorflow as tf

    from trainer.tuning import trial_builder

    build = trial_builder(ModelHParams(units=4, dense_units=4), SEARCH_SPACE, 30, None, seed=3)

    def initial_weights(units):
        hp = kt.HyperParameters()
        hp.Fixed("units", units)
        tf.random.uniform([7])  # Whatever ran before must not matter.
        return build(hp).get_weights()

    first, again, other = initial_weights(32), initial_weights(32), initial_weights(64)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))
