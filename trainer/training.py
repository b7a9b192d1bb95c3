"""TFX Trainer entry point: `run_fn` trains on Transform's output and exports for serving.

The exported SavedModel has two signatures, both running the Transform graph in TF:
  serving_default(examples: serialized tf.Example) -> {"outputs": P(positive)}  (TFMA, TF Serving)
  serving_raw_text(text: review strings)           -> {"probability": P(positive)}
"""
import json
import logging
import math
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from trainer import glove, models, preprocessing
from trainer.hparams import ModelHParams

RAW_TEXT_SIGNATURE = "serving_raw_text"


def resolve_hparams(custom_config: Dict[str, Any],
                    tuned: Optional[Dict[str, Any]] = None) -> ModelHParams:
    """Config hyperparameters, overridden by the Tuner's best ones when the Trainer gets them."""
    values = dict(custom_config.get("hparams", {}))
    if tuned:
        import keras_tuner

        values.update(keras_tuner.HyperParameters.from_config(tuned).values)
    return ModelHParams.from_dict(values)


def _files(patterns) -> List[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return [f for pattern in patterns for f in tf.io.gfile.glob(pattern)] or patterns


def count_records(patterns) -> int:
    dataset = tf.data.TFRecordDataset(_files(patterns), compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def make_dataset(fn_args, patterns, tft_output: tft.TFTransformOutput, label: str,
                 batch_size: int, repeat: bool) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        patterns,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label,
                                       num_epochs=None if repeat else 1, shuffle=repeat),
        tft_output.transformed_metadata.schema,
    ).map(lambda features, labels: (features[preprocessing.TOKENS_FEATURE], labels))


def embedding_for(tft_output: tft.TFTransformOutput, glove_path: str, num_oov_buckets: int):
    """(initial matrix or None, coverage summary) for the Transform vocabulary."""
    vocabulary = [w.decode("utf-8", "replace") if isinstance(w, bytes) else w
                  for w in tft_output.vocabulary_by_name(preprocessing.VOCAB_NAME)]
    rows = preprocessing.embedding_rows(len(vocabulary), num_oov_buckets)
    if not glove_path:
        return None, rows, {"vocabulary_size": len(vocabulary), "glove": "none"}
    init = glove.load_embedding(glove_path, vocabulary, num_oov_buckets)
    return init.matrix, rows, {**init.summary(), "glove": glove_path}


def export_serving_model(model: tf.keras.Model, tft_output: tft.TFTransformOutput,
                         text_feature: str, label_feature: str, export_dir: str) -> None:
    model.tft_layer = tft_output.transform_features_layer()  # Tracked: vocab travels as asset.
    raw_spec = tft_output.raw_feature_spec()
    raw_spec.pop(label_feature, None)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_tf_examples(serialized):
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return {"outputs": model(transformed[preprocessing.TOKENS_FEATURE])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_raw_text(text):
        # SchemaGen(infer_feature_shape=True) makes the raw text [batch, 1].
        transformed = model.tft_layer({text_feature: tf.reshape(text, [-1, 1])})
        return {"probability": model(transformed[preprocessing.TOKENS_FEATURE])}

    # save_traces=False: every layer is built-in, so Keras rebuilds them from config; this makes
    # the export 4x and each load (TFMA loads the model several times) 3x faster.
    model.save(export_dir, save_format="tf", save_traces=False, signatures={
        "serving_default": serve_tf_examples.get_concrete_function(),
        RAW_TEXT_SIGNATURE: serve_raw_text.get_concrete_function(),
    })


class EpochWeightAveraging(tf.keras.callbacks.Callback):
    """Running mean of the weights at the end of every epoch from `start_epoch` (1-based) on.

    Stochastic weight averaging (Izmailov et al., 2018): the mean of a few late epochs sits in a
    flatter region than any one of them. For the default BiGRU on IMDB it beat every single
    epoch on test (README, Results); an undertrained epoch in the mean can make it worse, hence
    the eval check in `keep_better_weights`. Place it before EarlyStopping, which may overwrite
    the weights at the epoch it stops.
    """

    def __init__(self, start_epoch: int):
        super().__init__()
        self.start_epoch = start_epoch
        self.average: Optional[List] = None
        self.epochs: List[int] = []

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 < self.start_epoch:
            return
        weights = self.model.get_weights()
        count = len(self.epochs)
        self.average = weights if self.average is None else [
            mean + (new - mean) / (count + 1) for mean, new in zip(self.average, weights)]
        self.epochs.append(epoch + 1)


def keep_better_weights(model: tf.keras.Model, averaging: EpochWeightAveraging,
                        evaluation: tf.data.Dataset) -> Dict[str, Any]:
    """Leaves `model` with the averaged weights unless they do worse on eval than the trained
    ones; returns what was compared, for the training summary."""
    if len(averaging.epochs) < 2:
        return {"epochs": averaging.epochs, "used": False}
    trained = model.get_weights()
    trained_accuracy = model.evaluate(evaluation, verbose=0, return_dict=True)["accuracy"]
    model.set_weights(averaging.average)
    averaged_accuracy = model.evaluate(evaluation, verbose=0, return_dict=True)["accuracy"]
    used = averaged_accuracy >= trained_accuracy
    if not used:
        model.set_weights(trained)
    logging.info("Weight averaging of epochs %s: eval accuracy %.4f vs %.4f trained; exporting "
                 "the %s weights", averaging.epochs, averaged_accuracy, trained_accuracy,
                 "averaged" if used else "trained")
    return {"epochs": averaging.epochs, "eval_accuracy": averaged_accuracy,
            "trained_eval_accuracy": trained_accuracy, "used": used}


def plot_history(histories: List[Dict[str, List[float]]], path: str) -> None:
    """Loss and accuracy per epoch, train and eval, one line pair per trained model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    metrics = [m for m in ("loss", "accuracy") if m in histories[0]]
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8))
    for axis, metric in zip(list(axes) if len(metrics) > 1 else [axes], metrics):
        for index, history in enumerate(histories):
            member = f" (model {index + 1})" if len(histories) > 1 else ""
            epochs = range(1, len(history[metric]) + 1)
            axis.plot(epochs, history[metric], "o-", label="train" + member)
            if f"val_{metric}" in history:
                axis.plot(epochs, history[f"val_{metric}"], "s--", label="eval" + member)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    with tf.io.gfile.GFile(path, "wb") as out:
        figure.savefig(out, format="png", dpi=110)
    plt.close(figure)


def fit_with_callbacks(model: tf.keras.Model, train: tf.data.Dataset,
                       evaluation: tf.data.Dataset, steps: int, config: Dict[str, Any],
                       log_dir: str) -> Dict[str, Any]:
    """Fits one model with early stopping, LR cuts and weight averaging; its history."""
    averaging = EpochWeightAveraging(int(config.get("average_from_epoch", 0)) or 10**9)
    callbacks = [
        averaging,
        tf.keras.callbacks.TensorBoard(log_dir=log_dir),
        # Accuracy is what the Evaluator blesses on; keep the epoch that did best on eval.
        tf.keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max",
            patience=int(config.get("early_stopping_patience", 2)),
            restore_best_weights=True, verbose=1),
    ]
    factor = float(config.get("reduce_lr_factor", 1.0))
    if factor < 1.0:
        # Same signal as early stopping, which waits one epoch longer: the cut learning rate
        # always gets an epoch before training stops.
        callbacks.append(tf.keras.callbacks.ReduceLROnPlateau(
            monitor="val_accuracy", mode="max", factor=factor, patience=0, min_lr=1e-5,
            verbose=1))
    history = model.fit(train, epochs=int(config.get("epochs", 5)), steps_per_epoch=steps,
                        validation_data=evaluation, callbacks=callbacks, verbose=2 if
                        config.get("quiet_progress") else 1).history
    return {"history": history,
            "weight_averaging": keep_better_weights(model, averaging, evaluation)}


def run_fn(fn_args) -> None:
    config = dict(fn_args.custom_config or {})
    tuned = getattr(fn_args, "hyperparameters", None)
    hparams = resolve_hparams(config, tuned)
    label = config.get("label_feature", "label")
    text_feature = config.get("text_feature", "text")
    batch_size = int(config.get("batch_size", 64))
    seed = int(config.get("seed", 42))
    ensemble_size = int(config.get("ensemble_size", 1))
    logging.info("Training %d model(s) with %s", ensemble_size, hparams)

    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    max_len = tft_output.transformed_feature_spec()[preprocessing.TOKENS_FEATURE].shape[0]
    matrix, rows, embedding_info = embedding_for(tft_output, config.get("glove_path", ""),
                                                 int(config.get("num_oov_buckets", 1)))
    steps = int(config.get("steps_per_epoch") or 0) or math.ceil(
        count_records(fn_args.train_files) / batch_size)
    train = make_dataset(fn_args, fn_args.train_files, tft_output, label, batch_size, True)
    evaluation = make_dataset(fn_args, fn_args.eval_files, tft_output, label, batch_size, False)

    members, runs = [], []
    for index in range(ensemble_size):
        # Members differ only in their seed (initialization, dropout, shuffling).
        tf.keras.utils.set_random_seed(seed + index)
        name = None if ensemble_size == 1 else f"member_{index + 1}"
        member = models.build_model(hparams, max_len, rows, matrix, name=name)
        if index == 0:
            member.summary(print_fn=lambda line: print(line, flush=True))
        logging.info("Training model %d of %d", index + 1, ensemble_size)
        log_dir = fn_args.model_run_dir if ensemble_size == 1 else os.path.join(
            fn_args.model_run_dir, name)
        runs.append(fit_with_callbacks(member, train, evaluation, steps, config, log_dir))
        members.append(member)
    model = members[0] if ensemble_size == 1 else models.average_ensemble(members)
    summary = {"hparams": hparams.to_dict(), "embedding": embedding_info,
               "hparams_source": "tuner artifact" if tuned else "config",
               "steps_per_epoch": steps, **runs[0]}
    if ensemble_size > 1:
        summary["members"] = runs
        summary["ensemble_eval_accuracy"] = model.evaluate(evaluation, verbose=0,
                                                           return_dict=True)["accuracy"]
        logging.info("Ensemble of %d: eval accuracy %.4f (members: %s)", ensemble_size,
                     summary["ensemble_eval_accuracy"],
                     [max(run["history"]["val_accuracy"]) for run in runs])
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_summary.json"),
                           "w") as out:
        json.dump(summary, out, indent=2, default=float)
    plot_history([run["history"] for run in runs],
                 os.path.join(fn_args.model_run_dir, "training_curves.png"))
    export_serving_model(model, tft_output, text_feature, label, fn_args.serving_model_dir)
