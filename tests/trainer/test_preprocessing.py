import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from pipeline.config import make_config
from trainer import preprocessing


def _tokens(text):
    return [t.decode() for t in preprocessing.tokenize(tf.constant([text]))[0].numpy()]


def test_normalize_lowercases_strips_html_and_splits_punctuation():
    assert _tokens("Great movie!<br /><br />I DON'T regret it, really.") == [
        "great", "movie", "!", "i", "don't", "regret", "it", ",", "really", "."]


@pytest.mark.parametrize("padding,truncating,expected", [
    ("post", "post", [[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]),
    ("pre", "post", [[0, 0, 1, 2, 3], [1, 2, 3, 4, 5]]),
    ("post", "pre", [[1, 2, 3, 0, 0], [3, 4, 5, 6, 7]]),
    ("pre", "pre", [[0, 0, 1, 2, 3], [3, 4, 5, 6, 7]]),
])
def test_pad_and_truncate_match_keras_pad_sequences(padding, truncating, expected):
    rows = [[1, 2, 3], [1, 2, 3, 4, 5, 6, 7]]
    ids = tf.ragged.constant(rows, dtype=tf.int64)
    got = preprocessing.pad_and_truncate(ids, 5, padding, truncating).numpy().tolist()
    assert got == expected
    keras = tf.keras.preprocessing.sequence.pad_sequences(rows, maxlen=5, padding=padding,
                                                          truncating=truncating)
    assert got == keras.tolist()


def _analyze_and_transform(rows, tmp_path, **config):
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        "text": tf.io.FixedLenFeature([1], tf.string),
        "label": tf.io.FixedLenFeature([1], tf.int64)}))
    fn = functools.partial(preprocessing.preprocessing_fn,
                           custom_config=make_config(**config).transform_config())
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), transform_fn = (
            (rows, raw_metadata) | tft_beam.AnalyzeAndTransformDataset(fn))
    output_dir = str(tmp_path / "transform_output")
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    return transformed, tft.TFTransformOutput(output_dir)


@pytest.fixture(scope="module")
def transformed_post(tmp_path_factory):
    rows = [{"text": [b"good good good film"], "label": [1]},
            {"text": [b"bad bad film<br />"], "label": [0]},
            {"text": [b"good film , rare words here"], "label": [1]}]
    return _analyze_and_transform(rows, tmp_path_factory.mktemp("tft"), vocab_size=3,
                                  max_len=6, padding="post", truncating="pre")


def test_vocabulary_keeps_top_k_by_frequency(transformed_post):
    _, output = transformed_post
    vocab = [w.decode() for w in output.vocabulary_by_name(preprocessing.VOCAB_NAME)]
    assert vocab == ["good", "film", "bad"]


def test_ids_reserve_zero_for_padding_and_map_oov(transformed_post):
    rows, output = transformed_post
    tokens = [r[preprocessing.TOKENS_FEATURE].tolist() for r in rows]
    # good=1, film=2, bad=3 (vocab index + 1), OOV bucket = 4, padding = 0.
    assert tokens[0] == [1, 1, 1, 2, 0, 0]
    assert tokens[1] == [3, 3, 2, 0, 0, 0]
    assert tokens[2] == [1, 2, 4, 4, 4, 4]  # ',', 'rare', 'words', 'here' are all OOV.
    assert [int(np.squeeze(r["label"])) for r in rows] == [1, 0, 1]
    # Token counts before truncation, and the raw review passed through untouched.
    assert [int(r[preprocessing.LENGTH_FEATURE]) for r in rows] == [4, 3, 6]
    assert rows[1][preprocessing.REVIEW_FEATURE] == b"bad bad film<br />"
    spec = output.transformed_feature_spec()[preprocessing.TOKENS_FEATURE]
    assert spec.shape == [6] and spec.dtype == tf.int64


def test_pre_padding_and_truncation_through_tft(tmp_path):
    rows = [{"text": [b"a b c d e f g"], "label": [0]}, {"text": [b"a b"], "label": [1]}]
    transformed, output = _analyze_and_transform(rows, tmp_path, vocab_size=100, max_len=4,
                                                 padding="pre", truncating="pre",
                                                 length_buckets=())
    vocab = [w.decode() for w in output.vocabulary_by_name(preprocessing.VOCAB_NAME)]
    ids = {w: i + 1 for i, w in enumerate(vocab)}
    assert transformed[0][preprocessing.TOKENS_FEATURE].tolist() == [ids[w] for w in "defg"]
    assert transformed[1][preprocessing.TOKENS_FEATURE].tolist() == [0, 0, ids["a"], ids["b"]]
    assert [int(r[preprocessing.LENGTH_FEATURE]) for r in transformed] == [7, 2]


def test_unique_per_row_keeps_each_rows_distinct_ids_in_order():
    ids = tf.ragged.constant([[3, 1, 3, 2, 1], [], [5, 5], [1]], dtype=tf.int64)
    got = preprocessing.unique_per_row(ids, width=10).to_list()
    assert got == [[3, 1, 2], [], [5], [1]]


@pytest.mark.parametrize("exact", [False, True])
def test_ngram_ids_are_a_binarized_bag_of_frequent_ngrams(tmp_path, exact):
    rows = [{"text": [b"good film good film"], "label": [1]},
            {"text": [b"bad film"], "label": [0]}]
    transformed, output = _analyze_and_transform(rows, tmp_path, vocab_size=100, max_len=4,
                                                 ngram_vocab_size=4, ngram_max=2,
                                                 ngram_vocab_exact=exact)
    vocab = [w.decode() for w in output.vocabulary_by_name(preprocessing.NGRAM_VOCAB_NAME)]
    # By frequency (film 3, good 2, good film 2, then 1s), the top 4 kept.
    assert len(vocab) == 4 and vocab[0] == "film" and set(vocab[1:3]) == {"good", "good film"}
    first = sorted(transformed[0][preprocessing.NGRAMS_FEATURE].tolist())
    # good, film, "good film" (twice in the text, once in the bag), "film good": each id once.
    expected = sorted(vocab.index(g) + 1 for g in ["good", "film", "good film", "film good"]
                      if g in vocab)
    assert first == expected and len(set(first)) == len(first)
    assert 0 not in first
