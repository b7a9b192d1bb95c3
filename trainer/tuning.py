"""TFX Tuner entry point: `tuner_fn` searches the model's hyperparameters with Keras Tuner.

The objective is accuracy on the `eval` split (never `test`). The best values land in the
Tuner's `best_hyperparameters` artifact, which the Trainer applies on top of the config
(`training.resolve_hparams`), so `run_fn` builds exactly the winning model. TFX also writes
every completed trial (id, score, values) to the `tuner_results` artifact as JSON.
"""
import logging
import math
from typing import Any, Dict

import keras_tuner as kt
import tensorflow as tf
from tfx import v1 as tfx

from trainer import models, preprocessing, training
from trainer.hparams import ModelHParams

ALGORITHMS = ("random", "bayesian", "hyperband")
OBJECTIVE = kt.Objective("val_accuracy", direction="max")

# The pipeline passes its own space (PipelineConfig.search_space); this one is for direct use.
DEFAULT_SEARCH_SPACE = {"units": [32, 64, 96], "dropout": [0.2, 0.5], "cell": ["gru", "lstm"],
                        "num_layers": [1], "bidirectional": [True],
                        "learning_rate": [1e-3, 2e-3]}


def hparams_from_hp(hp: kt.HyperParameters, base: ModelHParams,
                    space: Dict[str, Any]) -> ModelHParams:
    """Declares the search space on `hp` and returns the model hyperparameters of this trial."""
    low, high = space["dropout"]
    values = {
        "units": hp.Choice("units", list(space["units"])),
        "dropout": hp.Float("dropout", float(low), float(high), step=0.1) if high > low
        else hp.Fixed("dropout", float(low)),
        "cell": hp.Choice("cell", list(space["cell"])),
        "num_layers": hp.Choice("num_layers", list(space["num_layers"])),
        "bidirectional": hp.Choice("bidirectional", [bool(b) for b in space["bidirectional"]]),
        "learning_rate": hp.Choice("learning_rate", [float(x) for x in space["learning_rate"]]),
    }
    return ModelHParams.from_dict({**base.to_dict(), **values})


def make_tuner(algorithm: str, build, max_trials: int, epochs: int, directory: str,
               seed: int = 42) -> kt.Tuner:
    # One failed trial stops the search: a silently failing search would otherwise hand the
    # Trainer default hyperparameters.
    common = dict(objective=OBJECTIVE, directory=directory, project_name="imdb_tuning",
                  overwrite=True, seed=seed, max_consecutive_failed_trials=1)
    if algorithm == "random":
        return kt.RandomSearch(build, max_trials=max_trials, **common)
    if algorithm == "bayesian":
        return kt.BayesianOptimization(build, max_trials=max_trials, **common)
    if algorithm == "hyperband":
        return kt.Hyperband(build, max_epochs=max(epochs, 2), factor=3, **common)
    raise ValueError(f"tuner algorithm must be one of {ALGORITHMS}, got {algorithm!r}")


def tuner_fn(fn_args) -> tfx.components.TunerFnResult:
    config = dict(fn_args.custom_config or {})
    tuning = config.get("tuning", {})
    space = {**DEFAULT_SEARCH_SPACE, **tuning.get("search_space", {})}
    base = ModelHParams.from_dict(config.get("hparams", {}))
    label = config.get("label_feature", "label")
    batch_size = int(config.get("batch_size", 64))
    epochs = int(tuning.get("epochs", 1))
    tf.keras.utils.set_random_seed(int(config.get("seed", 42)))

    import tensorflow_transform as tft

    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    max_len = tft_output.transformed_feature_spec()[preprocessing.TOKENS_FEATURE].shape[0]
    # GloVe is read once; every trial starts from the same matrix.
    matrix, rows, embedding_info = training.embedding_for(
        tft_output, config.get("glove_path", ""), int(config.get("num_oov_buckets", 1)))
    logging.info("Tuner embedding: %s", embedding_info)

    def build(hp: kt.HyperParameters) -> tf.keras.Model:
        return models.build_model(hparams_from_hp(hp, base, space), max_len, rows, matrix)

    tuner = make_tuner(tuning.get("algorithm", "random"), build,
                       int(tuning.get("max_trials", 6)), epochs, fn_args.working_dir)
    train_examples = training.count_records(fn_args.train_files)
    fraction = float(tuning.get("train_fraction", 1.0))
    steps = max(1, math.ceil(train_examples * fraction / batch_size))
    logging.info("Tuning: %s, %d trials, %d epoch(s) of %d steps (%.0f%% of train) each",
                 tuning.get("algorithm", "random"), int(tuning.get("max_trials", 6)), epochs,
                 steps, 100 * fraction)
    train = training.make_dataset(fn_args, fn_args.train_files, tft_output, label, batch_size,
                                  repeat=True)
    evaluation = training.make_dataset(fn_args, fn_args.eval_files, tft_output, label,
                                       batch_size, repeat=False)
    return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={
        "x": train, "validation_data": evaluation, "steps_per_epoch": steps, "epochs": epochs,
        "callbacks": [tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)],
        "verbose": 2,
    })
