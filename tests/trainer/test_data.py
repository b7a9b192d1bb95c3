import numpy as np
import pytest
import tensorflow as tf

from trainer import data, preprocessing


@pytest.mark.parametrize("tokens,expected", [
    ([[3, 4, 0, 0, 0], [5, 0, 0, 0, 0]], [[3, 4], [5, 0]]),      # Right padding.
    ([[0, 0, 0, 3, 4], [0, 0, 0, 0, 5]], [[3, 4], [0, 5]]),        # Left padding.
    ([[0, 0, 0], [0, 0, 0]], [[0], [0]]),                         # Only empty reviews.
])
def test_trim_padding_keeps_every_token_and_nothing_else(tokens, expected):
    got = data.trim_padding(tf.constant(tokens, dtype=tf.int64)).numpy().tolist()
    assert got == expected


def test_trim_padding_of_an_empty_batch():
    assert data.trim_padding(tf.zeros([0, 7], tf.int64)).shape == (0, 1)


def test_length_buckets_group_similar_lengths_and_cut_each_batch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=200)
    tokens = np.zeros((200, 64), dtype=np.int64)
    for row, length in enumerate(lengths):
        tokens[row, :length] = rng.integers(1, 9, size=length)
    features = {preprocessing.TOKENS_FEATURE: tokens, preprocessing.LENGTH_FEATURE: lengths}
    dataset = tf.data.Dataset.from_tensor_slices((features, lengths % 2))
    batches = list(data.bucketed(dataset, 8, (10, 20, 40)))
    seen = 0
    for batch_tokens, labels in batches:
        batch_lengths = np.count_nonzero(batch_tokens.numpy(), axis=1)
        assert batch_tokens.shape[1] == batch_lengths.max()  # Cut to its longest review.
        bucket = np.digitize(batch_lengths, (10, 20, 40), right=False)
        assert len(set(bucket.tolist())) == 1  # One length bucket per batch.
        np.testing.assert_array_equal(labels.numpy(), batch_lengths % 2)  # Labels follow.
        seen += len(labels)
    assert seen == 200  # No review lost.
