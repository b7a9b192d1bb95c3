"""Batches of Transform's output for the Tuner and the Trainer, and trimming of padding.

Reviews are padded to `max_len` (400) tokens, but most are much shorter. Because every layer
after the embedding honours the padding mask (trainer/models.py), a batch can be cut to its
longest review without changing any prediction; grouping reviews of similar length
(`length_buckets`) makes those cuts deep. Both only apply to right ('post') padding, which is
also what keeps the mask cuDNN-compatible.
"""
from typing import List, Sequence

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from trainer import preprocessing


def files(patterns) -> List[str]:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    return [f for pattern in patterns for f in tf.io.gfile.glob(pattern)] or patterns


def count_records(patterns) -> int:
    dataset = tf.data.TFRecordDataset(files(patterns), compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def trim_padding(tokens: tf.Tensor) -> tf.Tensor:
    """[batch, time] ids -> the columns between the first and the last that hold a token.

    Works for right ('post') and left ('pre') padding alike. An all-padding batch (empty
    reviews, or no rows) keeps one column so the model still gets a well-formed input.
    """
    used = tf.reduce_any(tf.not_equal(tokens, preprocessing.PADDING_ID), axis=0)
    width = tf.shape(tokens)[1]
    first = tf.cast(tf.argmax(tf.cast(used, tf.int32)), tf.int32)
    last = width - tf.cast(tf.argmax(tf.cast(tf.reverse(used, [0]), tf.int32)), tf.int32)
    any_used = tf.reduce_any(used)
    first = tf.where(any_used, first, 0)
    last = tf.where(any_used, last, tf.minimum(width, 1))
    return tokens[:, first:last]


def bucketed(dataset: tf.data.Dataset, batch_size: int,
              boundaries: Sequence[int]) -> tf.data.Dataset:
    """Unbatched (features, label) -> batches of reviews of similar length, cut to the longest."""
    def cut(features, label):
        length = tf.maximum(tf.minimum(features[preprocessing.LENGTH_FEATURE],
                                       tf.cast(tf.shape(features[preprocessing.TOKENS_FEATURE])[0],
                                               tf.int64)), 1)
        return features[preprocessing.TOKENS_FEATURE][:length], label

    return dataset.map(cut, num_parallel_calls=tf.data.AUTOTUNE).bucket_by_sequence_length(
        lambda tokens, label: tf.shape(tokens)[0], bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))


def training_schema(tft_output: tft.TFTransformOutput, label: str):
    """Transform's output schema cut to what training reads: parsing the raw review and ~600
    n-gram ids per review every epoch, only to drop them, would slow each epoch down."""
    schema = type(tft_output.transformed_metadata.schema)()
    schema.CopyFrom(tft_output.transformed_metadata.schema)
    keep = {preprocessing.TOKENS_FEATURE, preprocessing.LENGTH_FEATURE, label}
    kept = [feature for feature in schema.feature if feature.name in keep]
    del schema.feature[:]
    schema.feature.extend(kept)
    return schema


def make_dataset(fn_args, patterns, tft_output: tft.TFTransformOutput, label: str,
                 batch_size: int, repeat: bool, length_buckets: Sequence[int],
                 seed: int) -> tf.data.Dataset:
    """(tokens [batch, time], label) batches; `length_buckets` = bucket boundaries in tokens
    (empty: fixed batches in file order, still trimmed to their longest review)."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        patterns,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label,
                                       num_epochs=None if repeat else 1, shuffle=repeat,
                                       shuffle_seed=seed),
        training_schema(tft_output, label))
    if length_buckets:
        dataset = dataset.map(lambda features, labels: ({
            name: features[name] for name in (preprocessing.TOKENS_FEATURE,
                                              preprocessing.LENGTH_FEATURE)}, labels))
        dataset = bucketed(dataset.unbatch(), batch_size, length_buckets)
        if repeat:  # Buckets fill at different rates; mix the lengths across steps again.
            dataset = dataset.shuffle(64, seed=seed)
    else:
        dataset = dataset.map(lambda features, labels: (
            trim_padding(features[preprocessing.TOKENS_FEATURE]), labels))
    return dataset.prefetch(tf.data.AUTOTUNE)


def model_inputs(model: tf.keras.Model, features):
    """What `model` takes from Transform's output: trimmed tokens, plus the dense n-gram ids
    (0 = padding) when it has a wide part."""
    tokens = trim_padding(features[preprocessing.TOKENS_FEATURE])
    if len(model.inputs) == 1:
        return tokens
    return {preprocessing.TOKENS_FEATURE: tokens,
            preprocessing.NGRAMS_FEATURE: tf.sparse.to_dense(
                features[preprocessing.NGRAMS_FEATURE])}


def predict_probabilities(model: tf.keras.Model, batches: tf.data.Dataset):
    """P(positive) of every row of `batches` (token ids) as a 1-D array, on this process's
    devices alone: `model.predict` would split each batch between a strategy's replicas, and a
    small last batch would leave one with no rows (trainer/distribution.py)."""
    import numpy as np

    call = tf.function(lambda tokens: model(tokens, training=False), reduce_retracing=True,
                       input_signature=[tf.TensorSpec([None, None], tf.int64)])
    parts = [call(tf.cast(tokens, tf.int64)).numpy().ravel() for tokens in batches]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
