import types

import numpy as np
import pytest
import tensorflow as tf
from keras.src.layers.rnn import gru_lstm_utils
from tensorflow_metadata.proto.v0 import schema_pb2

from contract.settings import TransformSettings
from pipeline.config import PRESETS, make_config
from trainer import data, preprocessing
from trainer.hparams import ModelHParams
from trainer.models import average_ensemble, build_model


def _recurrent_layers(model):
    found = []
    for layer in model.layers:
        inner = layer.forward_layer if isinstance(layer, tf.keras.layers.Bidirectional) else layer
        if isinstance(inner, (tf.keras.layers.LSTM, tf.keras.layers.GRU)):
            found.append((layer, inner))
    return found


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers,bidirectional,pooling", [
    (1, False, "last"), (2, True, "max_mean"), (3, False, "max_mean")])
def test_builder_shapes_and_structure(cell, num_layers, bidirectional, pooling):
    hparams = ModelHParams(cell=cell, num_layers=num_layers, units=8, bidirectional=bidirectional,
                           pooling=pooling, dense_units=4)
    model = build_model(hparams, embedding_rows=30, embedding_dim=6)
    tokens = np.random.default_rng(0).integers(0, 30, size=(5, 12))
    tokens[:, 8:] = 0  # Right padding.
    probabilities = model(tokens, training=False).numpy()
    assert probabilities.shape == (5, 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    recurrent = _recurrent_layers(model)
    assert len(recurrent) == num_layers
    expected_type = tf.keras.layers.LSTM if cell == "lstm" else tf.keras.layers.GRU
    for outer, inner in recurrent:
        assert isinstance(inner, expected_type)
        assert isinstance(outer, tf.keras.layers.Bidirectional) == bidirectional
        assert inner.units == 8
        # cuDNN eligibility (what Keras checks before choosing the fused kernel).
        assert inner._could_use_gpu_kernel
        assert inner.recurrent_dropout == 0
    width = 16 if bidirectional else 8
    last_recurrent_width = recurrent[-1][0].output_shape[-1]
    assert last_recurrent_width == width
    head = model.get_layer("dense")
    assert head.units == 4 and head.activation.__name__ == "relu"
    assert model.layers[-1].activation.__name__ == "sigmoid"


@pytest.mark.parametrize("trainable", [True, False])
def test_embedding_starts_from_given_matrix(trainable):
    matrix = np.random.default_rng(1).normal(size=(20, 7)).astype(np.float32)
    model = build_model(ModelHParams(units=4, glove_trainable=trainable), embedding_rows=999,
                        embedding_init=matrix)
    embedding = model.get_layer("embedding")
    np.testing.assert_allclose(embedding.get_weights()[0], matrix)
    assert embedding.trainable == trainable
    assert embedding.mask_zero
    # The matrix is a weight, not part of the config that every export and load carries.
    assert str(round(float(matrix[3, 4]), 4))[:6] not in model.to_json()


def test_model_learns_a_trivial_rule():
    """Token 1 in the sequence means positive: a working model fits this in a few epochs."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(2, 20, size=(256, 10))
    labels = rng.integers(0, 2, size=(256, 1))
    tokens[labels[:, 0] == 1, rng.integers(0, 10)] = 1
    model = build_model(ModelHParams(units=8, learning_rate=0.02, dropout=0.0,
                                     spatial_dropout=0.0), embedding_rows=20,
                        embedding_dim=8)
    history = model.fit(tokens, labels, epochs=8, batch_size=32, verbose=0).history
    assert history["accuracy"][-1] > 0.9


def test_invalid_hparams_are_rejected():
    with pytest.raises(ValueError, match="cell"):
        build_model(ModelHParams(cell="rnn"), embedding_rows=10)
    with pytest.raises(ValueError, match="dropout"):
        ModelHParams(dropout=1.5).validate()


def test_ensemble_averages_its_members_and_survives_a_save_and_load(tmp_path):
    hparams = ModelHParams(units=4, dense_units=4)
    members = []
    for index in range(2):
        tf.keras.utils.set_random_seed(index)
        members.append(build_model(hparams, embedding_rows=20, embedding_dim=3,
                                   name=f"member_{index + 1}"))
    ensemble = average_ensemble(members)
    tokens = np.random.default_rng(1).integers(1, 20, size=(6, 10))
    separate = [m(tokens, training=False).numpy() for m in members]
    assert not np.allclose(separate[0], separate[1])  # Different seeds, different models.
    averaged = ensemble(tokens, training=False).numpy()
    np.testing.assert_allclose(averaged, np.mean(separate, axis=0), rtol=1e-6)
    # The Trainer exports with save_traces=False: Keras must rebuild it from config alone.
    ensemble.save(tmp_path / "model", save_format="tf", save_traces=False)
    loaded = tf.keras.models.load_model(tmp_path / "model")
    np.testing.assert_allclose(loaded(tokens, training=False).numpy(), averaged, rtol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional,pooling", [(True, "max_mean"), (False, "last"),
                                                   (True, "last"), (False, "max_mean")])
def test_padding_never_changes_a_prediction(cell, bidirectional, pooling):
    """A review padded to 400 steps and the same review cut to its length (what length-aware
    batches and the serving signatures do) must get the same probability."""
    tf.keras.utils.set_random_seed(3)
    model = build_model(ModelHParams(cell=cell, units=8, bidirectional=bidirectional,
                                     pooling=pooling, dense_units=4), embedding_rows=50,
                        embedding_dim=6)
    rng = np.random.default_rng(0)
    padded = np.zeros((3, 400), dtype=np.int64)
    lengths = [7, 19, 1]
    for row, length in enumerate(lengths):
        padded[row, :length] = rng.integers(1, 50, size=length)
    full = model(padded, training=False).numpy()
    for row, length in enumerate(lengths):
        alone = model(padded[row:row + 1, :length], training=False).numpy()
        np.testing.assert_allclose(alone, full[row:row + 1], atol=1e-5)
    # Max pooling over time must not see the padded steps (Keras' GlobalMaxPooling1D would).
    np.testing.assert_allclose(model(padded[:, :19], training=False).numpy(), full, atol=1e-5)


def test_a_review_without_tokens_gets_a_finite_probability():
    model = build_model(ModelHParams(units=4, dense_units=4), embedding_rows=10, embedding_dim=3)
    probability = model(np.zeros((2, 5), dtype=np.int64), training=False).numpy()
    assert np.all(np.isfinite(probability)) and np.all((probability >= 0) & (probability <= 1))


def _preset_model(config):
    tf.keras.utils.set_random_seed(config.seed)
    return build_model(config.model_hparams(), preprocessing.embedding_rows(
        config.vocab_size, config.num_oov_buckets))


def _reviews(config, count):
    """Token ids of `count` reviews of 1..99 tokens (some longer than the smaller presets'
    max_len), and Transform's padded output for them under `config`."""
    rng = np.random.default_rng(5)
    reviews = [rng.integers(1, config.vocab_size + 1, size=n).tolist()
               for n in rng.integers(1, 100, size=count)]
    settings = TransformSettings.from_custom_config(config.transform_config())
    ragged = tf.ragged.constant(reviews, dtype=tf.int64)
    padded = preprocessing.pad_and_truncate(ragged, settings.max_len, settings.padding,
                                            settings.truncating)
    return reviews, padded, ragged.row_lengths()


def _pipeline_batches(config, count):
    """(tokens, review indices) batches as the Trainer reads them (data.make_dataset over
    Transform's output) and as the serving signatures cut them (data.model_inputs)."""
    reviews, padded, lengths = _reviews(config, count)
    features = {preprocessing.TOKENS_FEATURE: padded, preprocessing.LENGTH_FEATURE: lengths}
    index = tf.range(count, dtype=tf.int64)  # As the label: it follows each review.
    accessor = types.SimpleNamespace(tf_dataset_factory=lambda patterns, options, schema: (
        tf.data.Dataset.from_tensor_slices((features, index)).batch(options.batch_size)))
    tft_output = types.SimpleNamespace(
        transformed_metadata=types.SimpleNamespace(schema=schema_pb2.Schema()))
    training = data.make_dataset(
        types.SimpleNamespace(data_accessor=accessor), [], tft_output, "label",
        config.batch_size, repeat=False, length_buckets=config.length_buckets, seed=config.seed)
    model = _preset_model(config)
    serving = [(data.model_inputs(model, {preprocessing.TOKENS_FEATURE: padded[start:start + 8]}),
                index[start:start + 8]) for start in range(0, count, 8)]
    return model, reviews, list(training) + serving


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_feeds_the_recurrent_layers_a_cudnn_compatible_mask(preset):
    """On a GPU, Keras runs LSTM/GRU with cuDNN only when its run-time check passes for the
    batch: no mask, or one right-aligned with a token in every row. Else it falls back to the
    generic kernel, which is much slower."""
    config = make_config(preset)
    model, _, batches = _pipeline_batches(config, 3 * config.batch_size)
    for _, inner in _recurrent_layers(model):
        assert inner._could_use_gpu_kernel
    for tokens, _ in batches:
        # The recurrent layers get this mask unchanged (dropout layers pass it through).
        mask = model.get_layer("embedding").compute_mask(tokens)
        if mask is not None:
            assert bool(gru_lstm_utils.is_sequence_right_padded(mask)), "not right-aligned"
            assert not bool(gru_lstm_utils.has_fully_masked_sequence(mask))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_no_preset_prediction_depends_on_batching_or_padding(preset):
    """Each review gets one probability: alone, in any training or serving batch, padded to
    max_len on either side (so padding the seed presets 'post' changed none of their
    predictions)."""
    config = make_config(preset)
    model, reviews, batches = _pipeline_batches(config, 24)
    # One graph for all shapes: eager recurrent layers step slowly on a CPU.
    call = tf.function(lambda tokens: model(tokens, training=False),
                       input_signature=[tf.TensorSpec([None, None], tf.int64)])

    def predict(tokens):
        return call(tf.cast(tokens, tf.int64)).numpy()

    alone = np.concatenate([predict([r[-config.max_len:]]) for r in reviews])
    for tokens, index in batches:
        np.testing.assert_allclose(predict(tokens), alone[index.numpy()], atol=1e-5)
    for padding in ("pre", "post"):
        padded = tf.keras.preprocessing.sequence.pad_sequences(reviews, config.max_len,
                                                               padding=padding)
        np.testing.assert_allclose(predict(padded), alone, atol=1e-5)
