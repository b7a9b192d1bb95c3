"""The LSTM/GRU sentiment model, built in one function.

Recurrent layers keep Keras' defaults that select the cuDNN kernel on a GPU: tanh activation,
sigmoid recurrent activation, no `recurrent_dropout`, `unroll=False`, `use_bias=True` (and GRU
`reset_after=True`). Padding id 0 is masked; with right-padded ('post') input the mask stays
cuDNN-compatible.

Every layer after the embedding honours that mask, so how much padding follows a review never
changes its probability. That is what lets training batch reviews of similar length and the
serving signatures cut each batch to its longest review (`trainer/data.py`, `trainer/export.py`).
"""
from typing import List, Optional

import numpy as np
import tensorflow as tf

from trainer.hparams import ModelHParams
from trainer.preprocessing import NGRAMS_FEATURE, PADDING_ID, TOKENS_FEATURE

_CELLS = {"lstm": tf.keras.layers.LSTM, "gru": tf.keras.layers.GRU}


def _recurrent_layer(hparams: ModelHParams, return_sequences: bool, name: str):
    layer = _CELLS[hparams.cell](hparams.units, return_sequences=return_sequences,
                                 name=name)
    if hparams.bidirectional:
        layer = tf.keras.layers.Bidirectional(layer, name=f"bi_{name}")
    return layer


def masked_max_mean(sequence, tokens):
    """Max and mean over time of `sequence`, over the review's own steps only (tokens != 0).

    Keras' GlobalMaxPooling1D ignores the mask: a padded step (whose output the RNN sets to 0)
    would win the max wherever all real outputs are negative, so the padding length would change
    predictions. Written with TF ops on Keras tensors (TFOpLambda layers), which Keras rebuilds
    from the model config alone, so exports load with no custom objects. A review with no tokens
    at all pools to zeros instead of dividing by zero.
    """
    valid = tf.expand_dims(tf.cast(tf.not_equal(tokens, PADDING_ID), sequence.dtype), -1)
    count = tf.reduce_sum(valid, axis=1)
    mean = tf.reduce_sum(sequence * valid, axis=1) / tf.maximum(count, 1.0)
    highest = tf.reduce_max(sequence + (valid - 1.0) * 1e9, axis=1) * tf.minimum(count, 1.0)
    return tf.keras.layers.Concatenate(name="pooled")([highest, mean])


def build_model(hparams: ModelHParams, embedding_rows: int,
                embedding_init: Optional[np.ndarray] = None,
                embedding_dim: int = 50, name: Optional[str] = None) -> tf.keras.Model:
    """tokens [batch, time] int (0 = padding, any length) -> P(positive) [batch, 1].

    With pooling 'max_mean' the head sees max and mean over time of the final layer's outputs
    (a strong, cheap boost for long reviews); 'last' (the tutorial's head) sees the last state.
    """
    hparams.validate()
    if embedding_init is not None:
        embedding_rows, embedding_dim = embedding_init.shape
    tokens = tf.keras.Input(shape=(None,), dtype=tf.int64, name=TOKENS_FEATURE)
    # GloVe goes in with set_weights below: a Constant initializer would write the whole matrix
    # into the model config, i.e. into every export's keras_metadata.pb (42 MB per model at
    # 20k x 50), which Keras and TFMA parse on each load. "zeros" draws no random numbers, so the
    # layers after it are initialized as they were with the Constant initializer.
    embedding = tf.keras.layers.Embedding(
        embedding_rows, embedding_dim,
        embeddings_initializer="uniform" if embedding_init is None else "zeros", mask_zero=True,
        trainable=hparams.glove_trainable or embedding_init is None, name="embedding")
    x = embedding(tokens)
    if embedding_init is not None:
        embedding.set_weights([embedding_init])
    if hparams.spatial_dropout:
        x = tf.keras.layers.SpatialDropout1D(hparams.spatial_dropout, name="embedding_dropout")(x)
    for index in range(hparams.num_layers - 1):
        x = _recurrent_layer(hparams, True, f"{hparams.cell}_{index + 1}")(x)
        if hparams.dropout:
            x = tf.keras.layers.Dropout(hparams.dropout, name=f"dropout_{index + 1}")(x)
    last = f"{hparams.cell}_{hparams.num_layers}"
    if hparams.pooling == "max_mean":
        x = masked_max_mean(_recurrent_layer(hparams, True, last)(x), tokens)
    else:
        x = _recurrent_layer(hparams, False, last)(x)
    if hparams.dropout:
        x = tf.keras.layers.Dropout(hparams.dropout, name="recurrent_dropout_out")(x)
    x = tf.keras.layers.Dense(hparams.dense_units, activation="relu", name="dense")(x)
    if hparams.dropout:
        x = tf.keras.layers.Dropout(hparams.dropout, name="dense_dropout")(x)
    probability = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = tf.keras.Model(tokens, probability, name=name or f"imdb_{hparams.cell}")
    # Weighted: under a distribution strategy, evaluation rows added to fill a batch weigh 0
    # (trainer/distribution.py); without weights it is the plain accuracy.
    model.compile(optimizer=tf.keras.optimizers.Adam(hparams.learning_rate),
                  loss="binary_crossentropy",
                  weighted_metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def average_ensemble(members: List[tf.keras.Model]) -> tf.keras.Model:
    """One model whose P(positive) is the mean of the trained members' (same input).

    Seeds of one network err on different reviews, so their mean is steadier than either; it
    stays one SavedModel with the same serving signatures.
    """
    tokens = tf.keras.Input(shape=(None,), dtype=tf.int64, name=TOKENS_FEATURE)
    probability = tf.keras.layers.Average(name="probability")([m(tokens) for m in members])
    model = tf.keras.Model(tokens, probability, name="imdb_ensemble")
    model.compile(loss="binary_crossentropy",
                  weighted_metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def logit(probability):
    """The recurrent part's logit, as the exported model computes it; the mix weights are
    fitted on these very values (training.add_wide_part), so the two cannot disagree."""
    probability = tf.clip_by_value(probability, 1e-7, 1.0 - 1e-7)
    return tf.math.log(probability / (1.0 - probability))


def wide_and_deep(deep: tf.keras.Model, wide_weights: np.ndarray, wide_bias: float,
                  mix) -> tf.keras.Model:
    """{tokens, n-gram ids} -> P(positive): the recurrent model's logit and the wide part's
    (the summed weights of the review's n-grams, trainer/wide.py) mixed by `mix` = (deep
    weight, wide weight, bias), all fitted before; nothing here trains any further."""
    tokens = tf.keras.Input(shape=(None,), dtype=tf.int64, name=TOKENS_FEATURE)
    ngrams = tf.keras.Input(shape=(None,), dtype=tf.int64, name=NGRAMS_FEATURE)
    deep_logit = logit(deep(tokens))
    table = tf.keras.layers.Embedding(len(wide_weights), 1, embeddings_initializer="zeros",
                                      trainable=False, name="wide_weights")
    wide_logit = tf.reduce_sum(table(ngrams), axis=1) + wide_bias  # Id 0 (padding) weighs 0.
    head = tf.keras.layers.Dense(1, activation="sigmoid", trainable=False, name="probability")
    output = head(tf.keras.layers.Concatenate(name="logits")([deep_logit, wide_logit]))
    table.set_weights([np.asarray(wide_weights, np.float32).reshape(-1, 1)])
    head.set_weights([np.array([[mix[0]], [mix[1]]], np.float32), np.array([mix[2]], np.float32)])
    model = tf.keras.Model({TOKENS_FEATURE: tokens, NGRAMS_FEATURE: ngrams}, output,
                           name="imdb_wide_and_deep")
    model.compile(loss="binary_crossentropy",
                  weighted_metrics=[tf.keras.metrics.BinaryAccuracy(name="accuracy")])
    return model
