"""TFX Trainer entry point: `run_fn` trains on Transform's output and exports for serving.

Data: trainer/data.py; which weights are kept: trainer/averaging.py; the export and its serving
signatures: trainer/export.py; curves: trainer/plots.py.
"""
import dataclasses
import json
import logging
import math
import os
import sys
from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import (data, distribution, export, glove, models, preprocessing, resume,
                     warm_start, wide)
from trainer.averaging import EpochWeightAveraging, KeepBestEpoch, keep_better_weights
from trainer.hparams import ModelHParams
from trainer.plots import plot_history
from contract.names import TRAINING_SUMMARY_FILE
from contract.settings import TrainerSettings


def resolve_hparams(settings_hparams: Dict[str, Any],
                    tuned: Optional[Dict[str, Any]] = None) -> ModelHParams:
    """Config hyperparameters, overridden by the Tuner's best ones when the Trainer gets them."""
    values = dict(settings_hparams)
    if tuned:
        import keras_tuner

        values.update(keras_tuner.HyperParameters.from_config(tuned).values)
    return ModelHParams.from_dict(values)


def keras_verbosity() -> int:
    """Live progress bars on a terminal; one line per epoch in a log file (`make run > log`)."""
    return 1 if sys.stdout.isatty() else 2


def embedding_for(tft_output: tft.TFTransformOutput, glove_path: str, num_oov_buckets: int):
    """(initial matrix or None, embedding rows, coverage summary) for the Transform
    vocabulary."""
    words = vocabulary(tft_output)
    rows = preprocessing.embedding_rows(len(words), num_oov_buckets)
    if not glove_path:
        return None, rows, {"vocabulary_size": len(words), "glove": "none"}
    init = glove.load_embedding(glove_path, words, num_oov_buckets)
    return init.matrix, rows, {**init.summary(), "glove": glove_path}


def fit_with_callbacks(model: tf.keras.Model, train: tf.data.Dataset,
                       evaluation: tf.data.Dataset, steps: int, settings: TrainerSettings,
                       log_dir: str, extra_callbacks=(), backup_dir: str = "",
                       chief: bool = True) -> Dict[str, Any]:
    """Fits one model with early stopping, LR cuts and weight averaging; its history.

    The model ends with its best epoch's weights (KeepBestEpoch), or with the average of its
    epochs from `average_from_epoch` on when that does at least as well on eval.
    `extra_callbacks` run first (benchmarks/tuner_objectives.py records learning curves).
    With `backup_dir`, every finished epoch is kept there and a rerun resumes after the last
    one (trainer/resume.py).
    """
    averaging = EpochWeightAveraging(settings.average_from_epoch or 10**9)
    best = KeepBestEpoch("val_accuracy")  # Accuracy is what the Evaluator blesses on.
    callbacks = [
        *extra_callbacks, averaging, best,
        tf.keras.callbacks.TensorBoard(log_dir=log_dir),
        tf.keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                         patience=settings.early_stopping_patience, verbose=1),
    ]
    if settings.reduce_lr_factor < 1.0:
        # Same signal as early stopping, which waits one epoch longer: the cut learning rate
        # always gets an epoch before training stops.
        callbacks.append(tf.keras.callbacks.ReduceLROnPlateau(
            monitor="val_accuracy", mode="max", factor=settings.reduce_lr_factor, patience=0,
            min_lr=1e-5, verbose=1))
    state = resume.CallbackState(os.path.join(backup_dir, "callbacks"), callbacks[len(
        extra_callbacks):], write=chief and bool(backup_dir))
    callbacks.append(state)
    if backup_dir:
        callbacks.append(tf.keras.callbacks.BackupAndRestore(os.path.join(backup_dir, "keras")))
    try:
        model.fit(train, epochs=settings.epochs, steps_per_epoch=steps,
                  validation_data=evaluation, callbacks=callbacks, verbose=keras_verbosity())
    except (tf.errors.UnavailableError, tf.errors.AbortedError,
            tf.errors.DeadlineExceededError) as error:
        if distribution.worker_count(distribution.tf_config()) <= 1:
            raise
        raise distribution.PeerLostError(error) from None
    # One worker: its backup goes now. Several: each worker's BackupAndRestore removes its own
    # files; the chief deleting the dir would race a worker still saving its last epoch.
    if (backup_dir and chief and distribution.worker_count(distribution.tf_config()) <= 1
            and tf.io.gfile.isdir(backup_dir)):
        tf.io.gfile.rmtree(backup_dir)
    run = {"history": state.history, "best_epoch": best.best_epoch,
           "weight_averaging": keep_better_weights(model, averaging, evaluation)}
    if state.resumed_from_epoch:
        run["resumed_after_epoch"] = state.resumed_from_epoch
        run["epochs_run"] = state.epochs_run
    return run


def add_wide_part(deep: tf.keras.Model, train_files, eval_files,
                  tft_output: tft.TFTransformOutput, settings: TrainerSettings):
    """Fits the wide part (trainer/wide.py) on labelled `train_files` and the deep/wide mix on
    eval; the combined model and the eval accuracies of each part and of the mix."""
    width = tft_output.vocabulary_size_by_name(preprocessing.NGRAM_VOCAB_NAME) + 1
    train_x, train_y, _ = wide.read_split(train_files, settings.label_feature, width)
    eval_x, eval_y, eval_tokens = wide.read_split(eval_files, settings.label_feature, width,
                                                  with_tokens=True)
    part = wide.fit_wide(train_x, train_y, eval_x, eval_y, settings.wide_c_values)
    tokens = tf.keras.preprocessing.sequence.pad_sequences(eval_tokens, padding="post")
    deep_probability = data.predict_probabilities(
        deep, tf.data.Dataset.from_tensor_slices(tokens).batch(256).map(data.trim_padding))
    deep_logit = models.logit(tf.constant(deep_probability)).numpy().astype(np.float64)
    wide_logit = part.logits(eval_x)
    mix = wide.fit_mix(deep_logit, wide_logit, eval_y)
    mixed = mix[0] * deep_logit + mix[1] * wide_logit + mix[2]

    def accuracy(logits) -> float:
        return float(np.mean((logits > 0) == (eval_y == 1)))

    result = {"wide_c": part.c, "wide_eval_accuracy_by_c": part.eval_accuracy_by_c,
              "ngram_vocabulary": width - 1, "mix": mix,
              "deep_eval_accuracy": accuracy(deep_logit),
              "wide_eval_accuracy": accuracy(wide_logit), "eval_accuracy": accuracy(mixed)}
    logging.info("Wide and deep on eval: %s", result)
    return models.wide_and_deep(deep, part.weights, part.bias, mix), result


@dataclasses.dataclass(frozen=True)
class RunStart:
    """What every run_fn of the pipeline begins with."""

    strategy: tf.distribute.Strategy
    chief: bool
    serving_dir: str  # Where the export goes (a scratch dir on a non-chief worker).
    run_dir: str
    settings: TrainerSettings
    tuned: Optional[Dict[str, Any]]  # The Tuner's hyperparameters artifact, if any.
    hparams: ModelHParams
    tft_output: tft.TFTransformOutput


def start_run(fn_args) -> RunStart:
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs anything else.
    strategy = distribution.make_strategy()
    chief = distribution.is_chief(distribution.tf_config())
    serving_dir, run_dir = distribution.output_dirs(fn_args, chief)
    settings = TrainerSettings.from_custom_config(fn_args.custom_config)
    tuned = getattr(fn_args, "hyperparameters", None)
    return RunStart(strategy, chief, serving_dir, run_dir, settings, tuned,
                    resolve_hparams(settings.hparams, tuned),
                    tft.TFTransformOutput(fn_args.transform_graph_path))


def run_fn(fn_args) -> None:
    start = start_run(fn_args)
    strategy, chief, settings, tuned, hparams = (start.strategy, start.chief, start.settings,
                                                 start.tuned, start.hparams)
    serving_dir, run_dir, tft_output = start.serving_dir, start.run_dir, start.tft_output
    size = settings.ensemble_size
    logging.info("Training %d model(s) with %s", size, hparams)

    matrix, rows, embedding_info = embedding_for(tft_output, settings.glove_path,
                                                 settings.num_oov_buckets)
    steps = settings.steps_per_epoch or math.ceil(
        data.count_records(fn_args.train_files) / settings.batch_size)

    def dataset(patterns, repeat: bool, seed: int) -> tf.data.Dataset:
        return distribution.prepare(
            data.make_dataset(fn_args, patterns, tft_output, settings.label_feature,
                              settings.batch_size, repeat, settings.length_buckets, seed),
            strategy, settings.batch_size, repeat, files=len(data.files(patterns)))

    evaluation = dataset(fn_args.eval_files, False, settings.seed)
    # The Tuner's best trial (continued here), or with --warm-start the served model.
    base_model = getattr(fn_args, "base_model", None) or ""
    trial = warm_start.read_start_point(base_model)
    members, runs = [], []
    for index in range(size):
        # Members differ only in their seed (initialization, dropout, shuffling).
        seed = settings.seed + index
        tf.keras.utils.set_random_seed(seed)
        name = None if size == 1 else f"member_{index + 1}"
        with strategy.scope():
            member = models.build_model(hparams, rows, matrix, name=name)
        if base_model:
            started = warm_start.apply(member, base_model, vocabulary(tft_output))
        if index == 0:
            member.summary(print_fn=lambda line: print(line, flush=True))
        logging.info("Training model %d of %d", index + 1, size)
        log_dir = run_dir if size == 1 else os.path.join(run_dir, name)
        runs.append(fit_with_callbacks(
            member, dataset(fn_args.train_files, True, seed), evaluation, steps, settings,
            log_dir, backup_dir=backup_dir(settings, fn_args, tuned, index), chief=chief))
        members.append(member)
    with strategy.scope():
        model = members[0] if size == 1 else models.average_ensemble(members)
    summary = summary_head(hparams, embedding_info, tuned, steps, runs[0])
    summary["distribution"] = {**distribution.describe(strategy),
                               "weights_sha256": distribution.weights_digest(model)}
    logging.info("Distribution: %s", summary["distribution"])
    if trial:
        summary["continued_trial"] = {**trial, "used": started["used"]}
    if settings.warm_start:
        summary["warm_start"] = (started if not trial else
                                 {"used": bool(trial.get("warm_started")), "through": "trials"})
    if size > 1:
        summary["members"] = runs
        summary["ensemble_eval_accuracy"] = model.evaluate(evaluation, verbose=0,
                                                           return_dict=True)["accuracy"]
        logging.info("Ensemble of %d: eval accuracy %.4f (members: %s)", size,
                     summary["ensemble_eval_accuracy"],
                     [max(run["history"]["val_accuracy"]) for run in runs])
    if preprocessing.NGRAMS_FEATURE in tft_output.transformed_feature_spec():
        with strategy.scope():
            model, summary["wide_and_deep"] = add_wide_part(
                model, fn_args.train_files, fn_args.eval_files, tft_output, settings)
    write_outputs(model, summary, [run["history"] for run in runs], fn_args, tft_output,
                  settings, serving_dir, run_dir)
    warm_start.save_weights(members[0], serving_dir)
    if not chief:
        distribution.finish_worker(fn_args.serving_model_dir, serving_dir)


def backup_dir(settings: TrainerSettings, fn_args, tuned, member: int) -> str:
    """Where this training keeps its finished epochs: keyed by everything it depends on, so only
    a rerun of the same training (after a preemption, say) resumes from it ('' = off)."""
    if not settings.backup_dir:
        return ""
    key = resume.backup_key({
        "train": data.files(fn_args.train_files), "eval": data.files(fn_args.eval_files),
        "transform_graph": fn_args.transform_graph_path, "settings": fn_args.custom_config,
        "hyperparameters": tuned, "base_model": getattr(fn_args, "base_model", None),
        "member": member})
    return os.path.join(settings.backup_dir, key)


def vocabulary(tft_output: tft.TFTransformOutput):
    return [w.decode("utf-8", "replace") if isinstance(w, bytes) else w
            for w in tft_output.vocabulary_by_name(preprocessing.VOCAB_NAME)]


def summary_head(hparams: ModelHParams, embedding_info: Dict[str, Any], tuned, steps: int,
                 run: Dict[str, Any]) -> Dict[str, Any]:
    """What training_summary.json starts with, for every Trainer of the pipeline."""
    return {"hparams": hparams.to_dict(), "embedding": embedding_info,
            "hparams_source": "tuner artifact" if tuned else "config",
            "steps_per_epoch": steps, **run}


def write_outputs(model: tf.keras.Model, summary: Dict[str, Any], histories, fn_args,
                  tft_output: tft.TFTransformOutput, settings: TrainerSettings,
                  serving_dir: str, run_dir: str) -> None:
    """training_summary.json and the curves into `run_dir`; the serving export into
    `serving_dir` (fn_args' model_run and model dirs, except on a non-chief worker)."""
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, TRAINING_SUMMARY_FILE), "w") as out:
        json.dump(summary, out, indent=2, default=float)
    plot_history(histories, os.path.join(run_dir, "training_curves.png"))
    export.export_serving_model(
        model, tft_output, settings.text_feature, settings.label_feature, serving_dir,
        export.read_reviews(fn_args.eval_files, settings.warmup_reviews))
    warm = summary.get("warm_start", {}).get("used")
    export.write_data_record(serving_dir, fn_args.train_files, fn_args.eval_files, tft_output,
                             settings.label_feature, fn_args.transform_graph_path,
                             (getattr(fn_args, "base_model", None) or "") if warm else "")
    export.write_hyperparameters(serving_dir, summary["hparams"],
                                 getattr(fn_args, "hyperparameters", None))
