"""Warm start: layers copied from the served export, embedding rows mapped by token, and a
served model of another shape left unused with its reason."""
import os

import numpy as np
import tensorflow as tf

from contract.data_profile import VOCABULARY_FILE
from trainer import models, warm_start
from trainer.hparams import ModelHParams

HPARAMS = ModelHParams(units=4, dense_units=4, spatial_dropout=0.0)


def _export(tmp_path, model, vocabulary):
    """The parts of an export warm start reads: saved_model.pb, vocabulary, weights."""
    export = tmp_path / "served"
    (export / "assets").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    (export / VOCABULARY_FILE).write_text("\n".join(vocabulary) + "\n")
    warm_start.save_weights(model, str(export))
    return str(export)


def test_rows_are_mapped_by_token_and_other_layers_copied(tmp_path):
    old_vocabulary = ["good", "bad", "film"]
    tf.keras.utils.set_random_seed(1)
    served = models.build_model(HPARAMS, 1 + 3 + 1, None)
    export = _export(tmp_path, served, old_vocabulary)
    new_vocabulary = ["film", "great", "good", "plot"]  # 2 shared, in another order.
    tf.keras.utils.set_random_seed(2)
    model = models.build_model(HPARAMS, 1 + 4 + 1, None)
    before = model.get_layer("embedding").get_weights()[0]
    result = warm_start.apply(model, export, new_vocabulary)
    assert result["used"] and result["embedding_rows_mapped"] == 2
    old, new = (m.get_layer("embedding").get_weights()[0] for m in (served, model))
    np.testing.assert_array_equal(new[1], old[3])  # film
    np.testing.assert_array_equal(new[3], old[1])  # good
    np.testing.assert_array_equal(new[2], before[2])  # great: new, keeps its own row
    np.testing.assert_array_equal(new[-1], old[-1])  # the OOV bucket
    for name in ("bi_gru_1", "dense", "probability"):
        for a, b in zip(served.get_layer(name).get_weights(),
                        model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_another_cell_or_no_served_model_is_not_used_and_says_why(tmp_path):
    served = models.build_model(HPARAMS, 5, None)
    export = _export(tmp_path, served, ["good", "bad", "film"])
    lstm = models.build_model(ModelHParams(**{**HPARAMS.to_dict(), "cell": "lstm"}), 5, None)
    before = [w.copy() for w in lstm.get_weights()]
    result = warm_start.apply(lstm, export, ["good", "bad", "film"])
    assert not result["used"] and "bi_lstm_1" in result["reason"]
    assert "--cell" in result["reason"]
    for a, b in zip(before, lstm.get_weights()):
        np.testing.assert_array_equal(a, b)  # Nothing half-applied.
    first = warm_start.apply(lstm, str(tmp_path / "empty"), [])
    assert first == {"used": False, "reason": "no served model yet (first run)"}
    os.remove(os.path.join(export, warm_start.WEIGHTS_FILE))
    assert "without warm-start weights" in warm_start.apply(lstm, export, [])["reason"]
