"""Bad input at the serving boundary: every signature, every transport, the server stays up.

Each input gets either a finite probability in [0, 1] (equal to a direct signature call) or a
clear `ServingError`; `EXPECTED` is the table in docs/serving.md ("Bad input at the serving
boundary"), and `test_docs_table_is_what_the_tests_assert` keeps the two identical.
"""
import math
import os
import re

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2, predict_pb2

from serving.client import ClientOptions, LocalClient
from serving.errors import ServingError
from serving.wire import ModelTarget, SerializedExample, serialize_example
from tests.support.serving_backends import TOLERANCE, is_one_line, require_signature
from contract.signatures import (CLASSIFY_SCORES, CLASSIFY_SIGNATURE, EXAMPLES_INPUT,
                                EXAMPLES_SIGNATURE, RAW_TEXT_SIGNATURE)

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "serving.md")
SIGNATURES = (RAW_TEXT_SIGNATURE, EXAMPLES_SIGNATURE, CLASSIFY_SIGNATURE)


def example(**features) -> tf.train.Example:
    proto = tf.train.Example()
    for name, value in features.items():
        feature = proto.features.feature[name]
        if isinstance(value, int):
            feature.int64_list.value.append(value)
        else:
            feature.bytes_list.value.append(value)
    return proto


ONE_MB_REVIEW = ("A great film, moving and brilliant. " * 30000)[:1_000_000]
INPUTS = {
    "empty string": [""],
    "whitespace only": [" \t\n  "],
    "markup only": ["<br /><br />"],
    "invalid UTF-8 bytes": [b"great \xff\xfe film \xc3("],
    "emoji / CJK": ["😀🎬 映画はすばらしい 好看"],
    "1 MB review": [ONE_MB_REVIEW],
    "empty batch": [],
    "batch of 1,000": [f"review {i}: {'great' if i % 2 else 'awful'} film" for i in range(1000)],
    "tf.Example without text": [example(review=b"great film")],
    "text as int64 feature": [example(text=5)],
    "bytes that are not a tf.Example": [SerializedExample(b"\xff\x00 not a tf.Example")],
}

# What each input gets, per signature, on every transport (REST, gRPC, in process):
#   ("probability",)     finite, in [0, 1], equal to the signature called directly
#   ("empty",)           [] and no request sent
#   ("error", text)      the model refuses it: HTTP 400 / gRPC INVALID_ARGUMENT, message has text
#   ("client", text)     the client refuses it before sending anything, message has text
PROBABILITY, EMPTY = ("probability",), ("empty",)
NOT_TEXT = ("client", "takes review text")
NO_TEXT = ("error", "Feature: text (data type: string) is required but could not be found")
INT_TEXT = ("error", "Data types don't match. Data type: int64 but expected type: string")
TEXT_ROWS = ["empty string", "whitespace only", "markup only", "invalid UTF-8 bytes",
             "emoji / CJK", "1 MB review", "batch of 1,000"]
EXPECTED = {
    **{row: {s: PROBABILITY for s in SIGNATURES} for row in TEXT_ROWS},
    "empty batch": {s: EMPTY for s in SIGNATURES},
    "tf.Example without text": {RAW_TEXT_SIGNATURE: NOT_TEXT, EXAMPLES_SIGNATURE: NO_TEXT,
                                CLASSIFY_SIGNATURE: NO_TEXT},
    "text as int64 feature": {RAW_TEXT_SIGNATURE: NOT_TEXT, EXAMPLES_SIGNATURE: INT_TEXT,
                              CLASSIFY_SIGNATURE: INT_TEXT},
    "bytes that are not a tf.Example": {
        RAW_TEXT_SIGNATURE: NOT_TEXT,
        EXAMPLES_SIGNATURE: ("error", "Could not parse example input"),
        CLASSIFY_SIGNATURE: ("client", "do not parse as one")},
}


def reference_probabilities(reference, signature, reviews):
    if signature == RAW_TEXT_SIGNATURE:
        function = reference.model.signatures[signature]
        values = [r if isinstance(r, bytes) else r.encode("utf-8") for r in reviews]
        return function(text=tf.constant(values, tf.string))["probability"].numpy()[:, 0]
    serialized = tf.constant([serialize_example(r) for r in reviews], tf.string)
    outputs = reference.model.signatures[signature](
        **{("inputs" if signature == CLASSIFY_SIGNATURE else EXAMPLES_INPUT): serialized})
    if signature == CLASSIFY_SIGNATURE:
        return outputs[CLASSIFY_SCORES].numpy()[:, 1]
    return outputs["outputs"].numpy()[:, 0]


@pytest.fixture(scope="module")
def clients(backend, serving_root):  # noqa: F811 (the imported fixtures)
    """transport -> signature -> (client, server-or-None for request counts)."""
    made = {}
    for signature in SIGNATURES:
        options = ClientOptions(signature=signature, timeout=60)
        made.setdefault("local", {})[signature] = (
            LocalClient(serving_root, options), None)
        if backend.rest_url:
            made.setdefault("rest", {})[signature] = (
                backend.client("rest", ModelTarget(), signature=signature, timeout=60),
                backend.rest)
        if backend.grpc_target:
            made.setdefault("grpc", {})[signature] = (
                backend.client("grpc", ModelTarget(), signature=signature, timeout=60),
                backend.grpc)
    return made


@pytest.mark.parametrize("transport", ["rest", "grpc", "local"])
@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("case", list(INPUTS))
def test_bad_input(clients, reference, transport, signature, case):  # noqa: F811
    require_signature(reference.model_dir, signature)
    if transport not in clients:
        pytest.skip(f"no {transport} endpoint on this backend")
    client, server = clients[transport][signature]
    reviews = INPUTS[case]
    expected = EXPECTED[case][signature]
    before = server.requests if server else None
    if expected[0] in ("probability", "empty"):
        predictions = client.predict(reviews)
        assert len(predictions) == len(reviews)
        got = [p.probability for p in predictions]
        assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in got)
        if reviews:
            np.testing.assert_allclose(got, reference_probabilities(reference, signature,
                                                                    reviews),
                                       atol=TOLERANCE, rtol=0)
        if server and expected == EMPTY:
            assert server.requests == before  # Nothing sent.
        if server and case == "batch of 1,000":
            assert server.requests - before == 4  # 256 + 256 + 256 + 232
    else:
        with pytest.raises(ServingError) as caught:
            client.predict(reviews)
        message = str(caught.value)
        assert expected[1] in message and is_one_line(message)
        if expected[0] == "error":
            assert caught.value.code in ("HTTP 400", "INVALID_ARGUMENT")
            if server:
                assert server.requests - before == 1
        elif server:
            assert server.requests == before  # Refused before sending.
    # Whatever happened, the server (and the client) still answer.
    [after] = client.predict(["still there?"] if signature == RAW_TEXT_SIGNATURE
                             else [example(text=b"still there?")])
    assert 0.0 <= after.probability <= 1.0


def test_bad_requests_straight_to_the_standins(standins, reference):  # noqa: F811
    """What the clients never send: empty batches and raw junk, straight to the stand-ins."""
    import json
    import urllib.error
    import urllib.request
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    rest, grpc_server = standins

    def post(path, body: bytes):
        request = urllib.request.Request(rest.url + path, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    assert post("/v1/models/imdb:predict", b'{"instances": []}') == (
        400, {"error": "No values in 'instances' array"})
    assert post("/v1/models/imdb:classify",
                b'{"signature_name": "classify", "examples": []}') == (
        400, {"error": "'examples' value is an empty array"})
    assert post("/v1/models/imdb:predict", b'{"instances": ') [0] == 400
    assert post("/v1/models/imdb:predict", b'{"instances": [{"b64": "###"}]}') == (
        400, {"error": "Unable to base64 decode"})
    status, body = post("/v1/models/imdb:predict", b'{"instances": [{"b64": "/wA="}]}')
    assert status == 400 and "Could not parse example input" in body["error"]
    assert post("/v1/models/imdb:predict", b'{"signature_name": "serving_raw_text", '
                b'"instances": [3]}')[0] == 400

    with grpc.insecure_channel(grpc_server.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        empty = predict_pb2.PredictRequest()
        empty.model_spec.name = "imdb"
        empty.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto([], tf.string, [0]))
        answer = stub.Predict(empty, timeout=30)  # TF Serving runs an empty batch, too.
        assert tf.make_ndarray(answer.outputs["outputs"]).shape == (0, 1)
        junk = predict_pb2.PredictRequest()
        junk.model_spec.name = "imdb"
        junk.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto([b"\xff\x00"], tf.string))
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(junk, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Could not parse example input" in caught.value.details()
        wrong_type = predict_pb2.PredictRequest()
        wrong_type.model_spec.name = "imdb"
        wrong_type.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto([1, 2], tf.int64))
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(wrong_type, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        if CLASSIFY_SIGNATURE in reference.model.signatures:
            nothing = classification_pb2.ClassificationRequest()
            nothing.model_spec.name, nothing.model_spec.signature_name = "imdb", "classify"
            with pytest.raises(grpc.RpcError) as caught:
                stub.Classify(nothing, timeout=30)
            assert (caught.value.code(), caught.value.details()) == (
                grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
        ok = predict_pb2.PredictRequest()
        ok.model_spec.name = "imdb"
        ok.inputs[EXAMPLES_INPUT].CopyFrom(tf.make_tensor_proto(
            [example(text=b"great").SerializeToString()], tf.string))
        assert tf.make_ndarray(stub.Predict(ok, timeout=30).outputs["outputs"]).shape == (1, 1)
    status, body = post("/v1/models/imdb:predict", b'{"signature_name": "serving_raw_text", '
                        b'"instances": ["still up"]}')
    assert status == 200 and len(body["predictions"]) == 1


def _parse_cell(cell: str):
    cell = cell.strip()
    quoted = re.findall(r"`([^`]*)`", cell)
    if cell == "probability":
        return PROBABILITY
    if cell.startswith("`[]`"):
        return EMPTY
    if cell.startswith("client error") and len(quoted) == 1:
        return ("client", quoted[0])
    if cell.startswith("400 / INVALID_ARGUMENT") and len(quoted) == 1:
        return ("error", quoted[0])
    raise AssertionError(f"unreadable cell in docs/serving.md: {cell!r}")


def test_docs_table_is_what_the_tests_assert():
    with open(DOCS, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Bad input at the serving boundary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header == ["input", *(f"`{s}`" for s in SIGNATURES)]
    table = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        table[cells[0]] = {s: _parse_cell(c) for s, c in zip(SIGNATURES, cells[1:])}
    assert table == EXPECTED
