import numpy as np
import tensorflow as tf
from scipy import sparse

from trainer import wide
from trainer.hparams import ModelHParams
from trainer.models import build_model, logit, wide_and_deep


def _bags(rng, count, width=50):
    """Binary bags of n-gram ids 1..width-1; ids 1-5 lean positive, 6-10 negative."""
    labels = rng.integers(0, 2, size=count)
    rows, cols = [], []
    for row, label in enumerate(labels):
        ids = set(rng.integers(11, width, size=8).tolist())
        ids |= set(rng.integers(1, 6, size=2).tolist() if label else
                   rng.integers(6, 11, size=2).tolist())
        rows += [row] * len(ids)
        cols += sorted(ids)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, width)), labels


def test_nb_ratios_point_at_the_class_a_feature_appears_in():
    features = sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [1, 0, 1]]))
    ratios = wide.nb_ratios(features, np.array([1, 0, 1, 0]))
    assert ratios[1] > 0 > ratios[2] and abs(ratios[0]) < 1e-9


def test_the_wide_part_learns_and_picks_c_on_eval():
    rng = np.random.default_rng(0)
    train_x, train_y = _bags(rng, 400)
    eval_x, eval_y = _bags(rng, 200)
    part = wide.fit_wide(train_x, train_y, eval_x, eval_y, (0.01, 1.0))
    assert set(part.eval_accuracy_by_c) == {0.01, 1.0}
    assert part.eval_accuracy_by_c[part.c] == max(part.eval_accuracy_by_c.values()) > 0.95
    assert part.weights[0] == 0.0  # Padding never counts.
    assert np.mean((part.logits(eval_x) > 0) == (eval_y == 1)) > 0.95


def test_the_mix_weights_the_informative_part():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=500)
    informative = (labels * 2 - 1) * 3.0 + rng.normal(size=500)
    noise = rng.normal(size=500)
    deep_weight, wide_weight, _ = wide.fit_mix(noise, informative, labels)
    assert abs(wide_weight) > 5 * abs(deep_weight)


def test_wide_and_deep_computes_the_fitted_mix_and_reloads_without_custom_objects(tmp_path):
    tf.keras.utils.set_random_seed(0)
    deep = build_model(ModelHParams(units=4, dense_units=4), embedding_rows=20, embedding_dim=3)
    weights = np.linspace(-1, 1, 12).astype(np.float32)
    weights[0] = 0.0
    mix = (0.7, 1.3, -0.2)
    model = wide_and_deep(deep, weights, 0.5, mix)
    tokens = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], dtype=np.int64)
    ngrams = np.array([[1, 2, 0], [5, 9, 11]], dtype=np.int64)
    got = model({"tokens": tokens, "ngrams": ngrams}).numpy().ravel()
    deep_logit = logit(deep(tokens)).numpy().ravel()
    wide_logit = weights[ngrams].sum(axis=1) + 0.5
    expected = 1 / (1 + np.exp(-(mix[0] * deep_logit + mix[1] * wide_logit + mix[2])))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    model.save(tmp_path / "m", save_format="tf", save_traces=False)
    loaded = tf.keras.models.load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded({"tokens": tokens, "ngrams": ngrams}).numpy().ravel(),
                               got, rtol=1e-6)
