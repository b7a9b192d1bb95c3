"""Text preprocessing in the TF graph (TFT), shared by training, evaluation and serving."""
from typing import Any, Dict, Optional

import tensorflow as tf
import tensorflow_transform as tft

from contract.settings import TransformSettings
from contract.tokens import normalize, tokenize  # noqa: F401 (normalize: part of this API)

TOKENS_FEATURE = "tokens"
LENGTH_FEATURE = "num_tokens"  # Before truncation: for length-aware batching and the report.
REVIEW_FEATURE = "review"  # The raw text, passed through: real eval reviews for warmup files.
NGRAMS_FEATURE = "ngrams"  # Ids of the review's distinct word n-grams (the wide part), 0 = none.
NGRAM_VOCAB_NAME = "ngram_vocab"
VOCAB_NAME = "vocab"
PADDING_ID = 0  # Ids 1..vocab are words by frequency, then the OOV buckets.


def pad_and_truncate(ids: tf.RaggedTensor, max_len: int, padding: str = "post",
                     truncating: str = "pre") -> tf.Tensor:
    """Ragged ids -> dense [batch, max_len], like Keras `pad_sequences` with value 0."""
    if truncating == "pre":
        ids = ids[:, -max_len:]
    else:
        ids = ids[:, :max_len]
    dense = ids.to_tensor(default_value=PADDING_ID, shape=[None, max_len])
    if padding == "post":
        return dense
    # Shift every row right by its amount of padding.
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    source = tf.range(max_len)[tf.newaxis, :] - (max_len - lengths)[:, tf.newaxis]
    shifted = tf.gather(dense, tf.maximum(source, 0), batch_dims=1)
    return tf.where(source >= 0, shifted, tf.zeros_like(shifted))


def _squeeze(tensor: tf.Tensor) -> tf.Tensor:
    """SchemaGen(infer_feature_shape) gives [batch, 1]; work on [batch]."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=b"" if tensor.dtype == tf.string
                                    else 0)
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: Dict[str, Any],
                     custom_config: Optional[Dict[str, Any]] = None) -> Dict[str, tf.Tensor]:
    """TFX Transform entry point: raw text -> padded word ids; the label passes through."""
    settings = TransformSettings.from_custom_config(custom_config)
    tokens = tokenize(_squeeze(inputs[settings.text_feature]))
    ids = tft.compute_and_apply_vocabulary(
        tokens.to_sparse(), top_k=settings.vocab_size,
        num_oov_buckets=settings.num_oov_buckets, vocab_filename=VOCAB_NAME)
    ids = tf.RaggedTensor.from_sparse(ids) + 1  # Shift so 0 means padding.
    outputs = {TOKENS_FEATURE: pad_and_truncate(ids, settings.max_len, settings.padding,
                                                settings.truncating),
               LENGTH_FEATURE: tokens.row_lengths(),
               REVIEW_FEATURE: _squeeze(inputs[settings.text_feature])}
    if settings.ngram_vocab_size:
        outputs[NGRAMS_FEATURE] = ngram_ids(tokens, settings.ngram_max, settings.ngram_vocab_size,
                                            settings.ngram_vocab_exact)
    if settings.label_feature in inputs:
        outputs[settings.label_feature] = _squeeze(inputs[settings.label_feature])
    return outputs


def ngram_ids(tokens: tf.RaggedTensor, ngram_max: int, vocab_size: int,
              exact: bool = False) -> tf.SparseTensor:
    """Binarized bag of 1..ngram_max-grams -> ids 1..vocab_size of the `vocab_size` most
    frequent training n-grams; rarer n-grams are dropped (a linear model learns little from
    them), so 0 is free for padding.

    `exact=False` counts with TFT's approximate top-k: on IMDB's ~4.7M distinct 1-3-grams the
    exact vocabulary's global count and sort took 217 s of Transform's analysis, the
    approximate one 50 s (benchmarks/transform_speed.py)."""
    grams = tft.ngrams(tokens.to_sparse(), ngram_range=(1, ngram_max), separator=" ")
    vocabulary = (tft.compute_and_apply_vocabulary if exact else
                  tft.experimental.compute_and_apply_approximate_vocabulary)
    ids = vocabulary(grams, top_k=vocab_size, num_oov_buckets=0, default_value=-1,
                     vocab_filename=NGRAM_VOCAB_NAME)
    ids = tf.RaggedTensor.from_sparse(ids)
    return unique_per_row(tf.ragged.boolean_mask(ids, ids >= 0) + 1, vocab_size + 1).to_sparse()


def unique_per_row(ids: tf.RaggedTensor, width: int) -> tf.RaggedTensor:
    """Each row's distinct ids (all < width), in first-seen order; vectorized, unlike
    `tft.bag_of_words`, whose per-row loop made Transform minutes slower on IMDB."""
    rows = ids.value_rowids()
    unique = tf.unique(rows * width + ids.values).y  # Keys stay grouped by row, in row order.
    return tf.RaggedTensor.from_value_rowids(unique % width, unique // width,
                                             nrows=ids.nrows())


def embedding_rows(vocabulary_size: int, num_oov_buckets: int) -> int:
    """Rows of the embedding table: padding + vocabulary + OOV buckets."""
    return 1 + vocabulary_size + num_oov_buckets
