"""The wide part: NBSVM-style logistic regression on the review's distinct word n-grams.

Naive-Bayes log-count ratios r scale the binarized n-gram features and an L2 logistic
regression is fitted on them (Wang & Manning 2012; 0.917 alone on IMDB here, see
benchmarks/linear_baseline.py). Its n-gram weights (coefficient x r) become a one-column
embedding inside the exported model, so serving stays one SavedModel and one Transform graph.
The recurrent part and this one are then mixed on the logit scale with weights fitted on `eval`
(`fit_mix`), never on `test`.
"""
import dataclasses
import logging
from typing import Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf
from scipy import sparse

from trainer import data, preprocessing


@dataclasses.dataclass
class WideModel:
    weights: np.ndarray  # [n-gram vocabulary + 1]; row 0 (padding) is 0.
    bias: float
    c: float
    eval_accuracy_by_c: Dict[float, float]

    def logits(self, features: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(features @ self.weights).ravel() + self.bias


def read_split(patterns, label_key: str, width: int,
               with_tokens: bool = False) -> Tuple[sparse.csr_matrix, np.ndarray, list]:
    """(binary n-gram matrix [reviews, width], labels, token rows if asked) in file order."""
    spec = {preprocessing.NGRAMS_FEATURE: tf.io.VarLenFeature(tf.int64),
            label_key: tf.io.FixedLenFeature([], tf.int64)}
    if with_tokens:
        spec[preprocessing.TOKENS_FEATURE] = tf.io.VarLenFeature(tf.int64)
    records = tf.data.TFRecordDataset(data.files(patterns), compression_type="GZIP")
    rows, cols, labels, tokens = [], [], [], []
    offset = 0
    for batch in records.batch(1024).map(lambda r: tf.io.parse_example(r, spec)):
        ngrams = batch[preprocessing.NGRAMS_FEATURE]
        indices = ngrams.indices.numpy()
        rows.append(indices[:, 0] + offset)
        cols.append(ngrams.values.numpy())
        labels.append(batch[label_key].numpy())
        if with_tokens:
            tokens.extend(tf.sparse.to_dense(batch[preprocessing.TOKENS_FEATURE]).numpy())
        offset += len(labels[-1])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    matrix = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                               shape=(offset, width))
    return matrix, np.concatenate(labels), tokens


def nb_ratios(features: sparse.csr_matrix, labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    positive = alpha + np.asarray(features[labels == 1].sum(axis=0)).ravel()
    negative = alpha + np.asarray(features[labels == 0].sum(axis=0)).ravel()
    return np.log((positive / positive.sum()) / (negative / negative.sum()))


def fit_wide(train_x: sparse.csr_matrix, train_y: np.ndarray, eval_x: sparse.csr_matrix,
             eval_y: np.ndarray, c_values: Sequence[float]) -> WideModel:
    """NB-scaled L2 logistic regression; its strength C is the one that does best on eval."""
    from sklearn.linear_model import LogisticRegression

    ratios = nb_ratios(train_x, train_y)
    ratios[0] = 0.0  # Padding.
    scale = sparse.diags(ratios)
    scores, fitted = {}, {}
    for c in c_values:
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        model.fit(train_x @ scale, train_y)
        fitted[c] = model
        scores[c] = float(model.score(eval_x @ scale, eval_y))
    best = max(scores, key=lambda c: (scores[c], -c))  # Ties go to the stronger L2.
    model = fitted[best]
    logging.info("Wide part: eval accuracy by C %s; C=%s kept", scores, best)
    return WideModel(weights=(model.coef_.ravel() * ratios).astype(np.float32),
                     bias=float(model.intercept_[0]), c=best, eval_accuracy_by_c=scores)


def fit_mix(deep: np.ndarray, wide: np.ndarray, labels: np.ndarray) -> Tuple[float, float, float]:
    """(deep weight, wide weight, bias) of a logistic regression on the two parts' eval logits."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000).fit(np.stack([deep, wide], axis=1), labels)
    return float(model.coef_[0, 0]), float(model.coef_[0, 1]), float(model.intercept_[0])
