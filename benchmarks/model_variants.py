"""Test-split accuracy of model variants, trained with Keras directly on a pipeline's Transform
output: per epoch, weight-averaged over epochs, and averaged across variants (ensembles).

It answers "what moves test accuracy" quicker than full pipeline runs (no Tuner, no
Evaluator) and with the same preprocessing, embedding and model code. The test split is
transformed with the run's own Transform graph. Numbers it printed are in docs/results.md.

    .venv/bin/python benchmarks/model_variants.py PIPELINE_ROOT gru lstm gru_seed7 --epochs 3
"""
import argparse
import glob
import itertools
import os
import sys
from typing import Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_transform as tft

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer import models, preprocessing, training  # noqa: E402
from trainer.hparams import ModelHParams  # noqa: E402

# name -> (model hyperparameters over BiGRU(64) d0.3 lr 2e-3, seed, frozen GloVe in epoch 1)
VARIANTS = {
    "gru": ({}, 42, False),
    "gru_seed7": ({}, 7, False),
    "lstm": ({"cell": "lstm"}, 42, False),
    "more_dropout": ({"dropout": 0.4, "spatial_dropout": 0.4}, 42, False),
    "freeze_first_epoch": ({}, 42, True),
}


def transformed_split(transformed_dir: str, split: str, spec, shuffle: bool) -> tf.data.Dataset:
    files = glob.glob(os.path.join(transformed_dir, f"Split-{split}", "*.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if shuffle:
        records = records.shuffle(25000, seed=1, reshuffle_each_iteration=True)
    return records.batch(64).map(lambda x: tf.io.parse_example(x, spec)).map(
        lambda f: (f[preprocessing.TOKENS_FEATURE], f["label"])).prefetch(4)


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline_root")
    parser.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--glove", default=os.path.expanduser("~/.cache/glove/glove.6B.50d.txt"))
    args = parser.parse_args(argv)

    output = tft.TFTransformOutput(
        glob.glob(os.path.join(args.pipeline_root, "Transform/transform_graph/*"))[0])
    transformed = glob.glob(os.path.join(args.pipeline_root,
                                         "Transform/transformed_examples/*"))[0]
    spec = output.transformed_feature_spec()
    max_len = spec[preprocessing.TOKENS_FEATURE].shape[0]
    layer = output.transform_features_layer()
    test_tokens, test_labels = [], []
    for batch in tfds.load("imdb_reviews", split="test", batch_size=500):
        transformed_batch = layer({"text": tf.reshape(batch["text"], [-1, 1])})
        test_tokens.append(transformed_batch[preprocessing.TOKENS_FEATURE].numpy())
        test_labels.append(batch["label"].numpy())
    tokens, labels = np.concatenate(test_tokens), np.concatenate(test_labels)
    matrix, rows, _ = training.embedding_for(output, args.glove, 1)

    def test_predictions(model):
        return model.predict(tokens, batch_size=256, verbose=0)[:, 0]

    def accuracy(probabilities) -> float:
        return float(((probabilities > 0.5) == labels).mean())

    best: Dict[str, np.ndarray] = {}
    for name in args.variants:
        overrides, seed, freeze_first = VARIANTS[name]
        tf.keras.utils.set_random_seed(seed)
        hparams = ModelHParams(**{"learning_rate": 2e-3, "dropout": 0.3,
                                  "glove_trainable": not freeze_first, **overrides})
        model = models.build_model(hparams, max_len, rows, matrix)
        snapshots, best_val = [], -1.0
        for epoch in range(1, args.epochs + 1):
            if freeze_first and epoch == 2:
                model.get_layer("embedding").trainable = True
                model.compile(optimizer=tf.keras.optimizers.Adam(2e-3),
                              loss="binary_crossentropy", metrics=["accuracy"])
            history = model.fit(transformed_split(transformed, "train", spec, True), epochs=1,
                                validation_data=transformed_split(transformed, "eval", spec,
                                                                  False), verbose=2)
            val = history.history["val_accuracy"][0]
            predictions = test_predictions(model)
            snapshots.append(model.get_weights())
            print(f"{name} epoch {epoch}: eval {val:.4f} test {accuracy(predictions):.4f}",
                  flush=True)
            if val > best_val:
                best_val, best[name] = val, predictions
        if len(snapshots) > 2:
            model.set_weights([np.mean([s[k] for s in snapshots[1:]], axis=0)
                               for k in range(len(snapshots[0]))])
            print(f"{name} weights averaged over epochs 2-{args.epochs}: test "
                  f"{accuracy(test_predictions(model)):.4f}", flush=True)
    for size in range(2, len(best) + 1):
        for names in itertools.combinations(best, size):
            print(f"ensemble {'+'.join(names)} (best eval epoch of each): test "
                  f"{accuracy(np.mean([best[n] for n in names], axis=0)):.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
