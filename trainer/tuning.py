"""TFX Tuner entry point: `tuner_fn` searches the model's hyperparameters with Keras Tuner.

The objective is accuracy on the `eval` split (never `test`). Trials are short (a fraction of
an epoch), and their work is kept: when the search ends, the best trial's weights go to
`fn_args.serving_model_dir` (components/tuner.py makes that the Tuner's `model` output), and
the Trainer continues that trial instead of starting again. With --warm-start, every trial
starts from the served model's weights, so the trial handed on carries them too. The best
values land in the `best_hyperparameters` artifact, which the Trainer applies on top of the
config (`training.resolve_hparams`), so `run_fn` builds exactly the winning model.
"""
import logging
import math
import os
from typing import Any, Dict

import keras_tuner as kt
import tensorflow as tf
from tfx import v1 as tfx

from trainer import data, distribution, models, training, warm_start
from trainer.hparams import TUNER_ALGORITHMS, ModelHParams
from contract.settings import TunerSettings

OBJECTIVE = kt.Objective("val_accuracy", direction="max")


def plain_trial_output() -> None:
    """Keras Tuner 1.4 takes any process without an IPython *terminal* for a notebook
    (`get_ipython()` is None, whose class name lacks "Terminal") and clears the "cell" before
    each "Trial N Complete" line, writing ANSI clear-line codes into plain logs. Outside
    IPython it gets a plain newline instead, as it intends."""
    from keras_tuner.src import utils

    try:
        import IPython

        outside_ipython = IPython.get_ipython() is None
    except ImportError:
        outside_ipython = True
    if outside_ipython:
        utils.IS_NOTEBOOK = False


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


def trial_builder(base: ModelHParams, space: Dict[str, Any], rows: int, matrix, seed: int,
                  start_from: str = "", vocabulary=()):
    """Keras Tuner's build function. Every trial starts from the same random state (weights,
    dropout masks; the data order is seeded too), so trials differ by their hyperparameters,
    not by the luck of their draw, which early in training is of the same order as the effect
    of the hyperparameters themselves (benchmarks/tuner_objectives.py: two seeds of one
    configuration after one epoch span as wide a range as the whole default space).
    `start_from`: the served export whose weights each trial starts from (--warm-start)."""
    def build(hp: kt.HyperParameters) -> tf.keras.Model:
        tf.keras.utils.set_random_seed(seed)
        model = models.build_model(hparams_from_hp(hp, base, space), rows, matrix)
        # A trial of another shape than the served model starts from GloVe, as a first run.
        build.warm_started = bool(start_from) and warm_start.apply(model, start_from,
                                                                   vocabulary)["used"]
        return model

    build.warm_started = False
    return build


class KeepsBestTrial:
    """Mixed into a Keras Tuner: when the search ends, the best trial's model (its best epoch,
    which Keras Tuner checkpointed) is saved for the Trainer to continue (`handed_on_to`)."""

    handed_on_to = ""
    vocabulary = ()
    lineage_from = ""
    trial_training = {}  # How long each trial trained (epochs, share of train).
    builder = None  # trial_builder's function: knows whether the last build warm-started.

    def on_search_end(self):
        super().on_search_end()
        if not self.handed_on_to or os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief":
            return
        trial = self.oracle.get_best_trials(1)[0]
        best = self.load_model(trial)  # Builds it (warm-started as in its trial), then loads
        # the weights Keras Tuner checkpointed at its best epoch.
        warm = bool(self.builder and self.builder.warm_started)
        record = {"trial_id": trial.trial_id, "score": trial.score,
                  "values": trial.hyperparameters.values, **self.trial_training,
                  "warm_started": warm}
        warm_start.save_start_point(best, self.handed_on_to, self.vocabulary, record,
                                    self.lineage_from if warm else "")
        logging.info("Trial %s (eval accuracy %.4f) handed on to the Trainer: %s",
                     trial.trial_id, trial.score, self.handed_on_to)


class RandomSearch(KeepsBestTrial, kt.RandomSearch):
    pass


class BayesianOptimization(KeepsBestTrial, kt.BayesianOptimization):
    pass


class Hyperband(KeepsBestTrial, kt.Hyperband):
    pass


def make_tuner(algorithm: str, build, max_trials: int, epochs: int, directory: str,
               seed: int, strategy=None) -> kt.Tuner:
    # One failed trial stops the search: a silently failing search would otherwise hand the
    # Trainer default hyperparameters.
    # With parallel trials only the chief oracle starts the directory afresh: a worker that
    # wiped it would delete the trials the oracle records there.
    common = dict(objective=OBJECTIVE, directory=directory, project_name="imdb_tuning",
                  overwrite=os.environ.get("KERASTUNER_TUNER_ID", "chief") == "chief",
                  seed=seed, max_consecutive_failed_trials=1, distribution_strategy=strategy)
    if algorithm == "random":
        return RandomSearch(build, max_trials=max_trials, **common)
    if algorithm == "bayesian":
        return BayesianOptimization(build, max_trials=max_trials, **common)
    if algorithm == "hyperband":
        return Hyperband(build, max_epochs=max(epochs, 2), factor=3, **common)
    raise ValueError(f"tuner algorithm must be one of {TUNER_ALGORITHMS}, got {algorithm!r}")


def tuner_fn(fn_args) -> tfx.components.TunerFnResult:
    # Parallel trials (Keras Tuner's chief oracle + workers): each replica trains its own trial.
    strategy = distribution.make_strategy(multi_worker=False)
    settings = TunerSettings.from_custom_config(fn_args.custom_config)
    plain_trial_output()
    space = settings.search_space
    base = ModelHParams.from_dict(settings.hparams)
    tf.keras.utils.set_random_seed(settings.seed)

    import tensorflow_transform as tft

    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    # GloVe is read once; every trial starts from the same matrix.
    matrix, rows, embedding_info = training.embedding_for(tft_output, settings.glove_path,
                                                          settings.num_oov_buckets)
    logging.info("Tuner embedding: %s", embedding_info)

    vocabulary = training.vocabulary(tft_output)
    start_from = getattr(fn_args, "base_model", None) or ""
    build = trial_builder(base, space, rows, matrix, settings.seed, start_from, vocabulary)
    tuner = make_tuner(settings.algorithm, build, settings.max_trials, settings.epochs,
                       fn_args.working_dir, settings.seed,
                       None if strategy.num_replicas_in_sync == 1 else strategy)
    # Set by components/tuner.py; TFX's own Tuner executors leave it None (nothing handed on).
    tuner.handed_on_to = getattr(fn_args, "serving_model_dir", None) or ""
    tuner.vocabulary, tuner.lineage_from, tuner.builder = vocabulary, start_from, build
    train_examples = data.count_records(fn_args.train_files)
    steps = max(1, math.ceil(train_examples * settings.train_fraction / settings.batch_size))
    logging.info("Tuning: %s, %d trials, %d epoch(s) of %d steps (%.0f%% of train) each",
                 settings.algorithm, settings.max_trials, settings.epochs, steps,
                 100 * settings.train_fraction)
    tuner.trial_training = {"epochs": settings.epochs, "steps_per_epoch": steps,
                            "train_fraction": settings.train_fraction}

    def dataset(patterns, repeat: bool) -> tf.data.Dataset:
        return distribution.prepare(
            data.make_dataset(fn_args, patterns, tft_output, settings.label_feature,
                              settings.batch_size, repeat, settings.length_buckets,
                              settings.seed), strategy, settings.batch_size, repeat)

    return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={
        "x": dataset(fn_args.train_files, True), "validation_data": dataset(fn_args.eval_files,
                                                                             False),
        "steps_per_epoch": steps, "epochs": settings.epochs,
        "callbacks": [tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)],
        "verbose": training.keras_verbosity(),
    })
