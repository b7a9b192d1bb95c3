"""The pushed SavedModel of the shared tiny run as TF Serving sees it: signatures, warmup, CPU."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

from trainer import export
from contract import signatures as sig


def _saved_model(path) -> saved_model_pb2.SavedModel:
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as source:
        proto.ParseFromString(source.read())
    return proto


@pytest.fixture(scope="module")
def signature_defs(pushed_model_dir):
    return _saved_model(pushed_model_dir).meta_graphs[0].signature_def


@pytest.fixture(scope="module")
def loaded(pushed_model_dir):
    return tf.saved_model.load(pushed_model_dir)


def test_signatures_follow_tf_servings_predict_and_classify_contracts(signature_defs):
    assert set(signature_defs) >= {sig.EXAMPLES_SIGNATURE, sig.RAW_TEXT_SIGNATURE,
                                   sig.CLASSIFY_SIGNATURE}
    classify = signature_defs[sig.CLASSIFY_SIGNATURE]
    # What TF Serving's classifier.cc checks before it runs a Classify request.
    assert classify.method_name == sig.CLASSIFY_METHOD_NAME
    assert list(classify.inputs) == [sig.CLASSIFY_INPUT]
    assert classify.inputs[sig.CLASSIFY_INPUT].dtype == tf.string.as_datatype_enum
    assert classify.outputs[sig.CLASSIFY_CLASSES].dtype == tf.string.as_datatype_enum
    assert classify.outputs[sig.CLASSIFY_SCORES].dtype == tf.float32.as_datatype_enum
    for name, key in ((sig.EXAMPLES_SIGNATURE, sig.EXAMPLES_INPUT),
                      (sig.RAW_TEXT_SIGNATURE, sig.RAW_TEXT_INPUT)):
        assert signature_defs[name].method_name == "tensorflow/serving/predict"
        assert list(signature_defs[name].inputs) == [key]


def test_the_three_signatures_agree(loaded):
    texts = ["A great, wonderful film!", "awful and boring.<br />", ""]
    examples = tf.constant([export.text_example(t, "text").SerializeToString() for t in texts])
    raw = loaded.signatures[sig.RAW_TEXT_SIGNATURE](text=tf.constant(texts))
    by_example = loaded.signatures[sig.EXAMPLES_SIGNATURE](examples=examples)
    classified = loaded.signatures[sig.CLASSIFY_SIGNATURE](inputs=examples)
    probability = raw[sig.RAW_TEXT_OUTPUT].numpy()[:, 0]
    np.testing.assert_allclose(by_example[sig.EXAMPLES_OUTPUT].numpy()[:, 0], probability,
                               atol=1e-6)
    scores = classified[sig.CLASSIFY_SCORES].numpy()
    np.testing.assert_allclose(scores[:, 1], probability, atol=1e-6)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    assert classified[sig.CLASSIFY_CLASSES].numpy().tolist() == [[b"negative", b"positive"]] * 3
    assert np.all(np.isfinite(probability))


def test_padding_never_changes_a_prediction(loaded):
    """Batches are cut to their longest review: a short review alone (cut to its own length)
    and next to one longer than max_len (no cut) must get the same probability."""
    short = "a wonderful film"
    long = " ".join(["the movie was boring and awful"] * 10)
    serve = loaded.signatures[sig.RAW_TEXT_SIGNATURE]
    alone = serve(text=tf.constant([short]))[sig.RAW_TEXT_OUTPUT].numpy()[0, 0]
    padded = serve(text=tf.constant([short, long]))[sig.RAW_TEXT_OUTPUT].numpy()[0, 0]
    assert abs(alone - padded) <= 1e-5


def test_warmup_requests_are_real_eval_reviews_for_every_signature(pushed_model_dir, loaded,
                                                                    signature_defs):
    path = os.path.join(pushed_model_dir, sig.WARMUP_FILE)
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(path)]  # Uncompressed, as TF Serving reads it.
    assert 0 < len(records) <= 1000
    covered = set()
    for record in records:
        kind = record.WhichOneof("log_type")
        if kind == "predict_log":
            request = record.predict_log.request
            name, inputs = request.model_spec.signature_name, dict(request.inputs)
        else:
            assert kind == "classify_log"
            request = record.classify_log.request
            name = request.model_spec.signature_name
            examples = request.input.example_list.examples
            inputs = {sig.CLASSIFY_INPUT: tf.make_tensor_proto(
                [e.SerializeToString() for e in examples], dtype=tf.string)}
        covered.add(name)
        expected = signature_defs[name].inputs
        assert set(inputs) == set(expected), name
        for key, tensor in inputs.items():
            assert tensor.dtype == expected[key].dtype
        # Replay in-process: every record must run and give probabilities.
        outputs = loaded.signatures[name](**{k: tf.constant(tf.make_ndarray(v))
                                             for k, v in inputs.items()})
        values = next(iter(v for k, v in outputs.items() if v.dtype == tf.float32)).numpy()
        assert values.shape[0] == tf.make_ndarray(next(iter(inputs.values()))).shape[0] > 0
        assert np.all((values >= 0) & (values <= 1))
    assert covered == {sig.RAW_TEXT_SIGNATURE, sig.EXAMPLES_SIGNATURE, sig.CLASSIFY_SIGNATURE}
    texts = [t.decode() for r in records if r.WhichOneof("log_type") == "predict_log"
             and r.predict_log.request.model_spec.signature_name == sig.RAW_TEXT_SIGNATURE
             for t in tf.make_ndarray(r.predict_log.request.inputs[sig.RAW_TEXT_INPUT])]
    assert texts and all(len(t.split()) >= 3 for t in texts)  # Real reviews, not placeholders.


def test_export_runs_on_cpu_whatever_device_trained_it(pushed_model_dir):
    """Keras 2.15 saves a recurrent layer with both kernels (the cuDNN one and the generic
    one) behind TF's implementation selector, and strips device placements: a GPU-trained export
    therefore has no GPU-only node. Checked here on the graph; no GPU on these machines."""
    proto = _saved_model(pushed_model_dir)
    library = proto.meta_graphs[0].graph_def.library
    names = [f.signature.name for f in library.function]
    implements = {}
    for function in library.function:
        if "api_implements" in function.attr:
            implements.setdefault(function.attr["api_implements"].s.decode(), []).append(
                function.signature.name)
    assert any("gpu" in n.lower() or "cudnn" in n.lower() for n in names)
    assert implements  # The selector's alternatives are there to check.
    for api, variants in implements.items():
        # Each recurrent API has a CPU-capable variant besides the cuDNN one.
        assert any("cudnn" not in v.lower() and "gpu" not in v.lower() for v in variants), api
    devices = {node.device for node in proto.meta_graphs[0].graph_def.node} | {
        node.device for f in library.function for node in f.node_def}
    assert not any("GPU" in d.upper() for d in devices), devices


def test_keras_reloads_the_export_without_custom_objects(pushed_model_dir):
    """TFMA and the benchmarks load the export with Keras: no custom layer may be needed."""
    model = tf.keras.models.load_model(pushed_model_dir)
    tokens = np.array([[3, 4, 5, 0, 0, 0], [6, 7, 0, 0, 0, 0]], dtype=np.int64)
    ngrams = np.array([[1, 2, 0], [3, 0, 0]], dtype=np.int64)

    def predict(token_ids):
        inputs = token_ids if len(model.inputs) == 1 else {"tokens": token_ids, "ngrams": ngrams}
        return model(inputs).numpy()

    full = predict(tokens)
    assert np.all((full >= 0) & (full <= 1))
    np.testing.assert_allclose(predict(tokens[:, :3]), full, atol=1e-5)


def test_warmup_examples_carry_the_configured_text_feature():
    """With --text-feature review, warmup Examples hold `review` (the Example signatures parse
    that name), not a hard-coded `text`."""
    logs = export.warmup_records(["A fine film"], "review")
    predict = [log.predict_log.request for log in logs if log.HasField("predict_log")]
    serialized = [r for r in predict if r.model_spec.signature_name == "serving_default"][0]
    example = tf.train.Example.FromString(
        tf.make_ndarray(serialized.inputs["examples"]).ravel()[0])
    assert list(example.features.feature) == ["review"]
    assert example.features.feature["review"].bytes_list.value[0] == b"A fine film"
    classify = [log.classify_log.request for log in logs if log.HasField("classify_log")][0]
    assert list(classify.input.example_list.examples[0].features.feature) == ["review"]


def test_the_pushed_export_records_the_features_its_signatures_parse(pushed_model_dir):
    with open(os.path.join(pushed_model_dir, sig.INPUT_FEATURES_FILE)) as f:
        assert json.load(f) == {"text_feature": "text", "label_feature": "label"}
