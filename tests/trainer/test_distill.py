"""The distillation Trainer's data plumbing (trainer/distill.py); the stage itself runs end to
end in tests/pipeline/test_distillation.py."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import distill, preprocessing


def test_unlabeled_files_are_told_apart_from_labelled_ones():
    labelled, unlabeled = distill.split_patterns(["/t/Split-train/*", "/t/Split-unlabeled/*"])
    assert labelled == ["/t/Split-train/*"] and unlabeled == ["/t/Split-unlabeled/*"]
    with pytest.raises(ValueError, match="train_args.splits"):
        distill.split_patterns(["/t/Split-train/*"])


@pytest.mark.parametrize("buckets", [(), (3, 6)])
def test_soft_targets_stay_with_their_reviews(buckets):
    lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # Review i holds the token i + 1 repeated; its target is i / 10.
    tokens = tf.ragged.constant([[i + 1] * n for i, n in enumerate(lengths)], dtype=tf.int64)
    targets = np.arange(10, dtype=np.float32) / 10
    dataset = distill.soft_labelled_dataset(tokens, targets, 4, buckets, seed=1)
    seen = {}
    for batch_tokens, batch_targets in dataset.take(12):
        batch_tokens = batch_tokens.numpy()
        # Trimmed to its longest review, right-padded with the padding id.
        assert (batch_tokens[:, -1] != preprocessing.PADDING_ID).any()
        for row, target in zip(batch_tokens, batch_targets.numpy()):
            review = int(row[0]) - 1
            assert target == pytest.approx(targets[review])
            assert (row != preprocessing.PADDING_ID).sum() == lengths[review]
            seen[review] = True
    assert len(seen) == 10  # Repeats forever, every review comes round.


def test_agreement_thresholds_soft_targets():
    targets = tf.constant([[0.9], [0.2], [0.6], [1.0]])
    probabilities = tf.constant([[0.7], [0.4], [0.3], [0.51]])
    assert distill.agreement(targets, probabilities).numpy().ravel().tolist() == [1, 1, 0, 1]
