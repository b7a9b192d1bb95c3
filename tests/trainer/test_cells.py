"""Keras' LSTMCell/GRUCell compute the tutorial's equations (tests/support/cells.py), weight for
weight."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import cells

BATCH, INPUT_DIM, UNITS = 3, 5, 4


def _random(rng, *shape):
    return rng.normal(scale=0.7, size=shape).astype(np.float32)


def test_lstm_cell_matches_reference_over_several_steps():
    rng = np.random.default_rng(0)
    cell = tf.keras.layers.LSTMCell(UNITS)
    cell.build((None, INPUT_DIM))
    kernel, recurrent_kernel, bias = (_random(rng, *w.shape) for w in cell.get_weights())
    cell.set_weights([kernel, recurrent_kernel, bias])
    h = c = np.zeros((BATCH, UNITS), np.float32)
    keras_state = [tf.constant(h), tf.constant(c)]
    for _ in range(3):
        x = _random(rng, BATCH, INPUT_DIM)
        h, c = cells.lstm_step(x, h, c, kernel, recurrent_kernel, bias)
        keras_h, keras_state = cell(tf.constant(x), keras_state)
        np.testing.assert_allclose(keras_h.numpy(), h, atol=1e-5)
        np.testing.assert_allclose(keras_state[1].numpy(), c, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_cell_matches_reference_over_several_steps(reset_after):
    rng = np.random.default_rng(1)
    cell = tf.keras.layers.GRUCell(UNITS, reset_after=reset_after)
    cell.build((None, INPUT_DIM))
    weights = [_random(rng, *w.shape) for w in cell.get_weights()]
    cell.set_weights(weights)
    h = np.zeros((BATCH, UNITS), np.float32)
    keras_state = tf.constant(h)
    for _ in range(3):
        x = _random(rng, BATCH, INPUT_DIM)
        h = cells.gru_step(x, h, *weights, reset_after=reset_after)
        keras_h, keras_state = cell(tf.constant(x), keras_state)
        keras_state = keras_state[0] if isinstance(keras_state, (list, tuple)) else keras_state
        np.testing.assert_allclose(keras_h.numpy(), h, atol=1e-5)


@pytest.mark.parametrize("input_gate,forget_gate,expected", [
    (0, 1, "keep"),       # only memory
    (1, 1, "sum"),        # memory + input
    (0, 0, "zero"),       # memory cleared
    (1, 0, "overwrite"),  # input overwrites memory
])
def test_lstm_gate_table(input_gate, forget_gate, expected):
    """Saturated gates reproduce the tutorial's table of LSTM behaviours."""
    c_prev = np.array([[0.8, -0.5]], np.float32)
    x = np.array([[1.0, -1.0]], np.float32)
    big = 50.0  # σ(±50) is 0 or 1 to float precision.
    bias = np.concatenate([
        np.full(2, big if input_gate else -big),  # i
        np.full(2, big if forget_gate else -big),  # f
        np.zeros(2),                               # C~ = tanh(x @ W_C)
        np.full(2, big),                           # o
    ]).astype(np.float32)
    kernel = np.zeros((2, 8), np.float32)
    kernel[:, 4:6] = np.eye(2)
    _, c = cells.lstm_step(x, np.zeros((1, 2), np.float32), c_prev, kernel,
                           np.zeros((2, 8), np.float32), bias)
    candidate = np.tanh(x)
    want = {"keep": c_prev, "sum": c_prev + candidate, "zero": np.zeros_like(c_prev),
            "overwrite": candidate}[expected]
    np.testing.assert_allclose(c, want, atol=1e-6)
