"""NumPy reference for one LSTM step and one GRU step, following the tutorial's equations.

They take weights in Keras' layout, so tests can check that `tf.keras.layers.LSTMCell` and
`GRUCell` compute exactly these equations (docs/cells.md has the derivation and gate table).

Keras layout (units = n):
  LSTMCell: kernel [d, 4n], recurrent_kernel [n, 4n], bias [4n]; gate order i, f, C~, o.
  GRUCell:  kernel [d, 3n], recurrent_kernel [n, 3n], bias [2, 3n] when reset_after=True
            (row 0 input bias, row 1 recurrent bias); gate order z (update), r (reset), h~.
"""
from typing import Tuple

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def lstm_step(x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, kernel: np.ndarray,
              recurrent_kernel: np.ndarray, bias: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """One step; returns (h_t, C_t).

    W[h_{t-1}, x_t] of the tutorial is split as x_t @ kernel + h_{t-1} @ recurrent_kernel.
      f_t = σ(W_f[h_{t-1}, x_t] + b_f)        forget gate
      i_t = σ(W_i[h_{t-1}, x_t] + b_i)        input gate
      C̃_t = tanh(W_C[h_{t-1}, x_t] + b_C)     candidate
      C_t = f_t * C_{t-1} + i_t * C̃_t
      o_t = σ(W_o[h_{t-1}, x_t] + b_o)        output gate
      h_t = o_t * tanh(C_t)
    """
    z = x @ kernel + h_prev @ recurrent_kernel + bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    input_gate, forget_gate = sigmoid(z_i), sigmoid(z_f)
    candidate = np.tanh(z_c)
    output_gate = sigmoid(z_o)
    c = forget_gate * c_prev + input_gate * candidate
    h = output_gate * np.tanh(c)
    return h, c


def gru_step(x: np.ndarray, h_prev: np.ndarray, kernel: np.ndarray,
             recurrent_kernel: np.ndarray, bias: np.ndarray,
             reset_after: bool = True) -> np.ndarray:
    """One step; returns h_t.

      z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                      update gate
      r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                      reset gate
      h̃_t = tanh(W_h x_t + r_t * (U_h h_{t-1} + b_hr) + b_hx)   reset_after=True (Keras, cuDNN)
      h̃_t = tanh(W_h x_t + U_h (r_t * h_{t-1}) + b_h)           reset_after=False (Cho et al.)
      h_t = z_t * h_{t-1} + (1 - z_t) * h̃_t
    Keras keeps h_{t-1} where z_t = 1; papers that write h_t = (1 - z_t) h_{t-1} + z_t h̃_t
    simply name the gate the other way round.
    """
    units = h_prev.shape[-1]
    if reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    x_part = x @ kernel + input_bias
    x_z, x_r, x_h = np.split(x_part, 3, axis=-1)
    if reset_after:
        h_part = h_prev @ recurrent_kernel + recurrent_bias
        h_z, h_r, h_h = np.split(h_part, 3, axis=-1)
        update, reset = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        candidate = np.tanh(x_h + reset * h_h)
    else:
        h_z = h_prev @ recurrent_kernel[:, :units]
        h_r = h_prev @ recurrent_kernel[:, units:2 * units]
        update, reset = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        candidate = np.tanh(x_h + (reset * h_prev) @ recurrent_kernel[:, 2 * units:])
    return update * h_prev + (1.0 - update) * candidate
