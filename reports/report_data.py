"""Numbers the HTML report computes itself, because no artifact holds them.

TFMA keeps only aggregate metrics, so the confusion matrix, accuracy by review length and the
calibration curve come from running the run's model over the test split here; review lengths
come from Transform's `num_tokens` feature (tokens before truncation).
"""
import dataclasses
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf

from trainer import preprocessing
from contract.signatures import EXAMPLES_OUTPUT, EXAMPLES_SIGNATURE

THRESHOLD = 0.5  # TFMA's BinaryAccuracy and Keras' accuracy: positive when P > 0.5.


def split_files(examples_uri: str, split: str) -> List[str]:
    return sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))


def _records(files: List[str]) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(files, compression_type="GZIP")


def token_counts(transformed_examples_uri: str, split: str = "train") -> Optional[np.ndarray]:
    """Tokens per review before truncation, from Transform's output; None for runs whose
    Transform did not write the feature."""
    files = split_files(transformed_examples_uri, split)
    spec = {preprocessing.LENGTH_FEATURE: tf.io.FixedLenFeature([], tf.int64)}
    try:
        batches = [tf.io.parse_example(batch, spec)[preprocessing.LENGTH_FEATURE].numpy()
                   for batch in _records(files).batch(4096)]
    except tf.errors.InvalidArgumentError:  # Feature missing: written before it existed.
        return None
    return np.concatenate(batches) if batches else None


@dataclasses.dataclass
class Predictions:
    labels: np.ndarray  # 0/1
    probabilities: np.ndarray  # P(positive)
    lengths: np.ndarray  # Tokens before truncation.
    total: int  # Reviews in the split; `len(labels)` of them were scored.

    @property
    def correct(self) -> np.ndarray:
        return (self.probabilities > THRESHOLD) == (self.labels == 1)


def predict_split(model_dir: str, files: List[str], text_feature: str, label_feature: str,
                  limit: int = 0, batch_size: int = 256) -> Predictions:
    """Runs the exported `serving_default` signature (serialized tf.Example -> P(positive))
    over the first `limit` reviews of the files (0 = all), as TF Serving would."""
    signature = tf.saved_model.load(model_dir).signatures[EXAMPLES_SIGNATURE]
    spec = {text_feature: tf.io.FixedLenFeature([], tf.string),
            label_feature: tf.io.FixedLenFeature([], tf.int64)}
    total = sum(1 for _ in _records(files))
    records = _records(files).take(limit) if limit else _records(files)
    labels, probabilities, lengths = [], [], []
    for batch in records.batch(batch_size):
        parsed = tf.io.parse_example(batch, spec)
        outputs = signature(examples=batch)
        probabilities.append(outputs[EXAMPLES_OUTPUT].numpy().reshape(-1))
        labels.append(parsed[label_feature].numpy())
        lengths.append(preprocessing.tokenize(parsed[text_feature]).row_lengths().numpy())
    if not labels:
        return Predictions(np.zeros(0, int), np.zeros(0), np.zeros(0, int), total)
    return Predictions(np.concatenate(labels), np.concatenate(probabilities),
                       np.concatenate(lengths), total)


def confusion_matrix(predictions: Predictions) -> np.ndarray:
    """[[true negatives, false positives], [false negatives, true positives]]."""
    predicted = (predictions.probabilities > THRESHOLD).astype(int)
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (predictions.labels.astype(int), predicted), 1)
    return matrix


@dataclasses.dataclass
class Bucket:
    label: str
    count: int
    accuracy: float


def accuracy_by_length(predictions: Predictions, buckets: int = 5) -> List[Bucket]:
    """Accuracy per length quantile (about equal counts, so every bar means as much)."""
    lengths = predictions.lengths
    if not len(lengths):
        return []
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, buckets + 1)).round().astype(int))
    found = []
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        last = index == len(edges) - 2
        inside = (lengths >= low) & ((lengths <= high) if last else (lengths < high))
        if inside.any():
            label = f"{low}–{high if last else high - 1}"
            found.append(Bucket(label, int(inside.sum()),
                                float(predictions.correct[inside].mean())))
    if not found:  # Every review has the same length.
        found.append(Bucket(str(edges[0]), len(lengths), float(predictions.correct.mean())))
    return found


@dataclasses.dataclass
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_probability: float
    positive_rate: float


def calibration(predictions: Predictions, bins: int = 10) -> List[CalibrationBin]:
    """Reliability curve: per bin of predicted P(positive), the share really positive."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(predictions.probabilities, edges[1:-1]), 0, bins - 1)
    found = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            found.append(CalibrationBin(
                float(edges[b]), float(edges[b + 1]), int(inside.sum()),
                float(predictions.probabilities[inside].mean()),
                float(predictions.labels[inside].mean())))
    return found
