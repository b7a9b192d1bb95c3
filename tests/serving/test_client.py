"""serving/client.py against TF Serving's REST and gRPC APIs, and `imdb-pipeline predict`.

Backends (the `backend` fixture, parametrized):
  standin     tests/support/standins.py's REST and gRPC stand-ins on 127.0.0.1, backed by the tiny
              pushed model (versions 1 and 2, labels stable -> 1, canary -> 2); always runs.
  tf_serving  a real server: `tensorflow_model_server` from PATH, started here on the same
              serving dir; or one already running at TF_SERVING_REST_URL / TF_SERVING_GRPC_TARGET
              (then TF_SERVING_MODEL_DIR must name the SavedModel it serves as `imdb`, and only
              the tests without versions and labels run). Skipped, with the reason, otherwise.
Every answer must equal a direct call of the SavedModel's signature to 1e-6.
"""
import base64
import json
import math
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     predict_pb2)

from cli.main import build_parser, main
from serving.client import Backoff, ClientOptions, GrpcClient, LocalClient, RestClient
from serving.errors import ServingError
from serving.saved_models import read_signature_defs
from serving.wire import (ModelTarget, RestRequest, SerializedExample,
                          build_grpc_metadata_request, build_grpc_request,
                          build_rest_metadata_request, build_rest_request,
                          normalize_signature_defs)
from tests.support.executors import free_port
from tests.support.serving_backends import (TOLERANCE, assert_matches, has_signature,
                                           is_one_line, require_signature)
from trainer.export import text_example
from contract.signatures import (CLASS_NAMES, CLASSIFY_SIGNATURE, EXAMPLES_SIGNATURE,
                                RAW_TEXT_INPUT, RAW_TEXT_SIGNATURE)

SIGNATURES = (RAW_TEXT_SIGNATURE, EXAMPLES_SIGNATURE, CLASSIFY_SIGNATURE)
REVIEWS = ["A wonderful, moving film. The best!", "Awful and boring; a waste.",
           "the plot was dull<br /><br />but the actors were brilliant",
           "Ce film était génial 😀 映画", "ok"]


# ------------------------------------------------------------------------------------------
# Golden requests: exact bodies and protos, no server


GOLDEN_EXAMPLE_B64 = "ChkKFwoEdGV4dBIPCg0KC0dyZWF0IGZpbG0h"  # tf.Example{text: "Great film!"}


def test_golden_rest_raw_text_with_label():
    request = build_rest_request(ModelTarget("imdb", label="stable"), RAW_TEXT_SIGNATURE,
                                 ["Great film!", b"\xff"])
    assert request == RestRequest("POST", "/v1/models/imdb/labels/stable:predict", {
        "signature_name": "serving_raw_text", "instances": ["Great film!", {"b64": "/w=="}]})
    assert request.data() == (b'{"signature_name": "serving_raw_text", "instances": '
                              b'["Great film!", {"b64": "/w=="}]}')


def test_golden_rest_examples_with_version():
    request = build_rest_request(ModelTarget("imdb", version=3), EXAMPLES_SIGNATURE,
                                 ["Great film!"])
    assert request == RestRequest("POST", "/v1/models/imdb/versions/3:predict", {
        "signature_name": "serving_default", "instances": [{"b64": GOLDEN_EXAMPLE_B64}]})
    assert base64.b64decode(GOLDEN_EXAMPLE_B64) == text_example(
        "Great film!", "text").SerializeToString()


def test_golden_rest_classify_and_metadata():
    example = tf.train.Example()
    example.features.feature["text"].int64_list.value.append(5)
    request = build_rest_request(ModelTarget("imdb"), CLASSIFY_SIGNATURE,
                                 ["Great film!", b"\xff", example])
    assert request == RestRequest("POST", "/v1/models/imdb:classify", {
        "signature_name": "classify",
        "examples": [{"text": "Great film!"}, {"text": {"b64": "/w=="}}, {"text": 5}]})
    assert build_rest_metadata_request(ModelTarget("my model", label="canary")) == RestRequest(
        "GET", "/v1/models/my%20model/labels/canary/metadata")


def test_golden_grpc_predict_raw_text():
    method, request = build_grpc_request(ModelTarget("imdb", version=3), RAW_TEXT_SIGNATURE,
                                         ["Great film!", b"\xff"])
    assert method == "Predict"
    assert request == text_format.Parse("""
        model_spec { name: "imdb" version { value: 3 } signature_name: "serving_raw_text" }
        inputs { key: "text" value { dtype: DT_STRING tensor_shape { dim { size: 2 } }
                                     string_val: "Great film!" string_val: "\\377" } }
    """, predict_pb2.PredictRequest())


def test_golden_grpc_predict_examples():
    _, request = build_grpc_request(ModelTarget("imdb", label="stable"), EXAMPLES_SIGNATURE,
                                    ["Great film!", SerializedExample(b"\x00raw")])
    assert request == text_format.Parse("""
        model_spec { name: "imdb" version_label: "stable" signature_name: "serving_default" }
        inputs { key: "examples" value { dtype: DT_STRING tensor_shape { dim { size: 2 } }
            string_val: "\\n\\031\\n\\027\\n\\004text\\022\\017\\n\\r\\n\\013Great film!"
            string_val: "\\000raw" } }
    """, predict_pb2.PredictRequest())


def test_golden_grpc_classify_and_metadata():
    method, request = build_grpc_request(ModelTarget("imdb"), CLASSIFY_SIGNATURE, ["Great film!"])
    assert method == "Classify"
    assert request == text_format.Parse("""
        model_spec { name: "imdb" signature_name: "classify" }
        input { example_list { examples { features { feature { key: "text" value {
            bytes_list { value: "Great film!" } } } } } } }
    """, classification_pb2.ClassificationRequest())
    assert build_grpc_metadata_request(ModelTarget("imdb", label="canary")) == text_format.Parse(
        'model_spec { name: "imdb" version_label: "canary" } metadata_field: "signature_def"',
        get_model_metadata_pb2.GetModelMetadataRequest())


def test_examples_carry_the_configured_text_feature():
    """A pipeline run with --text-feature review serves Example signatures that parse
    `review`: every request the client builds from text must put the review there."""
    def features(serialized: bytes):
        return dict(tf.train.Example.FromString(serialized).features.feature)

    rest = build_rest_request(ModelTarget(), EXAMPLES_SIGNATURE, ["Great film!"], "review")
    sent = base64.b64decode(rest.body["instances"][0]["b64"])
    assert sent == text_example("Great film!", "review").SerializeToString()
    assert build_rest_request(ModelTarget(), CLASSIFY_SIGNATURE, ["Great film!"],
                              "review").body["examples"] == [{"review": "Great film!"}]
    _, grpc_predict = build_grpc_request(ModelTarget(), EXAMPLES_SIGNATURE, ["Great film!"],
                                         "review")
    assert list(features(grpc_predict.inputs["examples"].string_val[0])) == ["review"]
    _, grpc_classify = build_grpc_request(ModelTarget(), CLASSIFY_SIGNATURE, ["Great film!"],
                                          "review")
    assert list(grpc_classify.input.example_list.examples[0].features.feature) == ["review"]


def test_version_and_label_are_exclusive_and_options_checked():
    with pytest.raises(ValueError, match="not both"):
        ModelTarget("imdb", version=1, label="stable")
    with pytest.raises(ValueError, match="batch_size"):
        ClientOptions(batch_size=0)


def test_raw_text_signature_refuses_examples_before_sending():
    with pytest.raises(ServingError, match="takes review text"):
        build_rest_request(ModelTarget(), RAW_TEXT_SIGNATURE, [text_example("x", "text")])


def test_backoff_delays_and_only_retryable_errors():
    slept, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ServingError("down", "UNAVAILABLE", retryable=True)
        return "ok"

    assert Backoff(retries=3, initial=0.1, sleep=slept.append).call(flaky) == "ok"
    assert slept == [0.1, 0.2] and len(calls) == 3

    def bad_input():
        calls.append(1)
        raise ServingError("bad", "INVALID_ARGUMENT")

    calls.clear()
    with pytest.raises(ServingError, match="^bad$"):
        Backoff(retries=3, sleep=slept.append).call(bad_input)
    assert len(calls) == 1


# ------------------------------------------------------------------------------------------
# The contract: every client answers what the signatures compute


TARGETS = {"newest": ModelTarget(), "version 1": ModelTarget(version=1),
           "label canary": ModelTarget(label="canary")}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize("signature", SIGNATURES)
@pytest.mark.parametrize("target", list(TARGETS))
def test_server_answers_equal_the_signatures(backend, reference, transport, signature, target):
    require_signature(backend.model_dir, signature)
    if target != "newest":
        backend.need_versions()
    with backend.client(transport, TARGETS[target], signature=signature) as client:
        assert_matches(client.predict(REVIEWS), reference, signature, REVIEWS)


@pytest.mark.parametrize("signature", SIGNATURES)
def test_local_client_answers_equal_the_signatures(serving_root, reference, signature):
    require_signature(reference.model_dir, signature)
    client = LocalClient(serving_root, ClientOptions(signature=signature), version=1)
    assert client.model_dir == os.path.join(serving_root, "1")
    assert LocalClient(serving_root).model_dir == os.path.join(serving_root, "2")  # Newest.
    assert_matches(client.predict(REVIEWS), reference, signature, REVIEWS)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_large_inputs_are_split_into_batches(standins, reference, transport):
    rest, grpc_server = standins
    server = rest if transport == "rest" else grpc_server
    reviews = [f"{REVIEWS[i % len(REVIEWS)]} #{i}" for i in range(7)]
    client = (RestClient(rest.url, options=ClientOptions(batch_size=3)) if transport == "rest"
              else GrpcClient(grpc_server.target, options=ClientOptions(batch_size=3)))
    before = server.requests
    predictions = client.predict(reviews)
    assert server.requests - before == 3  # 3 + 3 + 1
    assert_matches(predictions, reference, RAW_TEXT_SIGNATURE, reviews)


@pytest.mark.parametrize("target", list(TARGETS))
def test_grpc_answers_name_the_version_served(backend, target):
    if target != "newest":
        backend.need_versions()
    with backend.client("grpc", TARGETS[target]) as client:
        response = client.call(*build_grpc_request(TARGETS[target], RAW_TEXT_SIGNATURE, ["ok"]))
    assert response.model_spec.name == "imdb"
    assert response.model_spec.signature_name == RAW_TEXT_SIGNATURE
    if backend.versions:
        assert response.model_spec.version.value == {"newest": 2, "version 1": 1,
                                                      "label canary": 2}[target]


@pytest.mark.parametrize("target", list(TARGETS))
def test_metadata_is_the_saved_models_signatures(backend, serving_root, target):
    if target != "newest":
        backend.need_versions()
    want = normalize_signature_defs(read_signature_defs(backend.model_dir), "imdb", None)
    answers = []
    for transport in ("rest", "grpc"):
        with backend.client(transport, TARGETS[target]) as client:
            answers.append(client.metadata())
    for answer in answers:
        assert answer["name"] == "imdb"
        assert answer["signatures"] == want["signatures"]
        assert answer["signatures"][RAW_TEXT_SIGNATURE]["inputs"] == {
            RAW_TEXT_INPUT: {"dtype": "DT_STRING", "shape": [-1]}}
        if backend.versions:
            assert answer["version"] == {"newest": 2, "version 1": 1, "label canary": 2}[target]
    assert answers[0] == answers[1]
    local = LocalClient(serving_root, version=1).metadata()
    assert local["signatures"] == want["signatures"] and local["version"] == 1


def test_rest_model_status_lists_the_versions(backend):
    backend.need_versions()
    status = backend.client("rest").status()
    assert sorted(s["version"] for s in status["model_version_status"]) == ["1", "2"]
    assert {s["state"] for s in status["model_version_status"]} == {"AVAILABLE"}
    one = backend.client("rest", ModelTarget(version=1)).status()
    assert [s["version"] for s in one["model_version_status"]] == ["1"]
    # TF Serving answers a status request with a label for all versions: the label is ignored.
    labelled = backend.client("rest", ModelTarget(label="stable")).status()
    assert len(labelled["model_version_status"]) == 2


# ------------------------------------------------------------------------------------------
# Errors: one exception type, one line, TF Serving's codes


ERRORS = {  # case -> (target, signature, REST status, gRPC code)
    "unknown version": (ModelTarget(version=7), RAW_TEXT_SIGNATURE, "HTTP 404", "NOT_FOUND"),
    "unknown label": (ModelTarget(label="nope"), RAW_TEXT_SIGNATURE, "HTTP 400",
                      "INVALID_ARGUMENT"),
    "unknown model": (ModelTarget("nope"), RAW_TEXT_SIGNATURE, "HTTP 404", "NOT_FOUND"),
    "unknown signature": (ModelTarget(), "no_such_signature", "HTTP 400",
                          "FAILED_PRECONDITION"),
}


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize("case", list(ERRORS))
def test_server_errors_are_one_line_serving_errors(backend, transport, case):
    target, signature, rest_code, grpc_code = ERRORS[case]
    if case != "unknown model" and case != "unknown signature":
        backend.need_versions()
    with backend.client(transport, target, signature=signature) as client:
        with pytest.raises(ServingError) as caught:
            client.predict(["fine"])
    assert caught.value.code == (rest_code if transport == "rest" else grpc_code)
    assert not caught.value.retryable
    assert is_one_line(str(caught.value))
    if case == "unknown version":
        assert "7" in str(caught.value)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_metadata_of_a_missing_version_is_not_found(backend, transport):
    backend.need_versions()
    with backend.client(transport, ModelTarget(version=7)) as client:
        with pytest.raises(ServingError) as caught:
            client.metadata()
    assert caught.value.code == ("HTTP 404" if transport == "rest" else "NOT_FOUND")


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_unreachable_server_is_retried_then_one_line(transport):
    slept = []
    port = free_port()  # Nothing listens there.
    options = ClientOptions(retries=2, timeout=5)
    backoff = Backoff(retries=2, initial=0.1, sleep=slept.append)
    client = (RestClient(f"http://127.0.0.1:{port}", options=options, backoff=backoff)
              if transport == "rest" else
              GrpcClient(f"127.0.0.1:{port}", options=options, backoff=backoff))
    with pytest.raises(ServingError) as caught:
        client.predict(["fine"])
    assert slept == [0.1, 0.2]
    assert caught.value.retryable and "after 3 attempts" in str(caught.value)
    assert "refused" in str(caught.value).lower() and is_one_line(str(caught.value))


# ------------------------------------------------------------------------------------------
# Retries against the stand-ins (fault injection)


def _client_for(standins, transport, slept, **options):
    rest, grpc_server = standins
    backoff = Backoff(retries=options.pop("retries", 2), initial=0.05, sleep=slept.append)
    if transport == "rest":
        return rest, RestClient(rest.url, options=ClientOptions(**options), backoff=backoff)
    return grpc_server, GrpcClient(grpc_server.target, options=ClientOptions(**options),
                                   backoff=backoff)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_unavailable_twice_then_success(standins, reference, transport):
    slept = []
    server, client = _client_for(standins, transport, slept)
    server.inject(2)  # gRPC UNAVAILABLE / HTTP 503
    before = server.requests
    assert_matches(client.predict(["fine film"]), reference, RAW_TEXT_SIGNATURE, ["fine film"])
    assert server.requests - before == 3
    assert slept == [0.05, 0.1]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_unavailable_beyond_the_retries_fails(standins, transport):
    slept = []
    server, client = _client_for(standins, transport, slept, retries=1)
    server.inject(2)
    before = server.requests
    with pytest.raises(ServingError) as caught:
        client.predict(["fine"])
    assert server.requests - before == 2 and slept == [0.05]
    assert caught.value.code == ("HTTP 503" if transport == "rest" else "UNAVAILABLE")
    assert "after 2 attempts" in str(caught.value)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_bad_request_is_not_retried(standins, transport):
    slept = []
    server, client = _client_for(standins, transport, slept, signature="no_such_signature")
    before = server.requests
    with pytest.raises(ServingError) as caught:
        client.predict(["fine"])
    assert server.requests - before == 1 and slept == []
    assert caught.value.code in ("HTTP 400", "FAILED_PRECONDITION")


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_timeout_is_an_error_and_not_retried(standins, transport):
    slept = []
    server, client = _client_for(standins, transport, slept, timeout=0.3)
    server.inject(1, code=None, delay=1.5)
    before = server.requests
    with pytest.raises(ServingError) as caught:
        client.predict(["fine"])
    assert caught.value.code == "DEADLINE_EXCEEDED" and slept == []
    time.sleep(1.3)  # Let the delayed request finish before the next test counts requests.
    assert server.requests - before == 1


def test_rest_standin_speaks_tf_servings_json(standins, reference):
    """Row and columnar formats, b64, and the error body, straight over HTTP."""
    rest, _ = standins

    def post(path, body):
        request = urllib.request.Request(rest.url + path, data=json.dumps(body).encode(),
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    want = reference.probabilities(RAW_TEXT_SIGNATURE, ["great", "awful"])
    status, body = post("/v1/models/imdb:predict", {
        "signature_name": RAW_TEXT_SIGNATURE,
        "instances": ["great", {"b64": base64.b64encode(b"awful").decode()}]})
    assert status == 200
    np.testing.assert_allclose(np.array(body["predictions"])[:, 0], want, atol=TOLERANCE)
    status, body = post("/v1/models/imdb/versions/1:predict", {
        "signature_name": RAW_TEXT_SIGNATURE, "inputs": {RAW_TEXT_INPUT: ["great", "awful"]}})
    assert status == 200
    np.testing.assert_allclose(np.array(body["outputs"])[:, 0], want, atol=TOLERANCE)
    status, body = post("/v1/models/imdb:predict", {
        "signature_name": RAW_TEXT_SIGNATURE, "instances": [{RAW_TEXT_INPUT: "great"}]})
    assert status == 200 and len(body["predictions"]) == 1
    status, body = post("/v1/models/imdb:predict", {"signature_name": RAW_TEXT_SIGNATURE})
    assert (status, body) == (400, {"error": "Missing 'inputs' or 'instances' key"})
    if has_signature(reference.model_dir, CLASSIFY_SIGNATURE):
        status, body = post("/v1/models/imdb/labels/stable:classify", {
            "signature_name": CLASSIFY_SIGNATURE, "examples": [{"text": "great"}]})
        assert status == 200
        [[[negative, s0], [positive, s1]]] = body["results"]
        assert (negative, positive) == CLASS_NAMES
        np.testing.assert_allclose([s0, s1], reference.probabilities(
            CLASSIFY_SIGNATURE, ["great"])[0], atol=TOLERANCE)


# ------------------------------------------------------------------------------------------
# imdb-pipeline predict


def _json_lines(out: str):
    return [json.loads(line) for line in out.strip().splitlines()]


def test_cli_predict_rest_json(standins, reference, capsys):
    rest, _ = standins
    assert main(["predict", "--rest", rest.url, "--json", REVIEWS[0], REVIEWS[1]]) == 0
    records = _json_lines(capsys.readouterr().out)
    assert [r["text"] for r in records] == REVIEWS[:2]
    np.testing.assert_allclose([r["probability"] for r in records],
                               reference.probabilities(RAW_TEXT_SIGNATURE, REVIEWS[:2]),
                               atol=TOLERANCE)
    assert all(r["label"] in CLASS_NAMES for r in records)


def test_cli_predict_grpc_file_classify_table(standins, reference, tmp_path, capsys):
    require_signature(reference.model_dir, CLASSIFY_SIGNATURE)
    _, grpc_server = standins
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(REVIEWS) + "\n\n", encoding="utf-8")
    assert main(["predict", "--grpc", grpc_server.target, "--signature", "classify",
                 "--label", "canary", "--batch-size", "2", "--file", str(reviews)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    want = reference.probabilities(CLASSIFY_SIGNATURE, REVIEWS)[:, 1]
    assert len(lines) == len(REVIEWS)
    for line, review, probability in zip(lines, REVIEWS, want):
        assert line == f"{probability:.3f}  {CLASS_NAMES[int(probability >= 0.5)]:<8}  {review}"


def test_cli_predict_json_with_scores_and_stdin(standins, reference, capsys, monkeypatch):
    require_signature(reference.model_dir, CLASSIFY_SIGNATURE)
    rest, _ = standins
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("great film\n\nawful\n"))
    assert main(["predict", "--rest", rest.url, "--signature", "classify", "--version", "1",
                 "--json"]) == 0
    records = _json_lines(capsys.readouterr().out)
    want = reference.probabilities(CLASSIFY_SIGNATURE, ["great film", "awful"])
    assert [r["text"] for r in records] == ["great film", "awful"]
    np.testing.assert_allclose([[r["scores"]["negative"], r["scores"]["positive"]]
                                for r in records], want, atol=TOLERANCE)


def test_cli_predict_in_process(serving_root, reference, capsys):
    assert main(["predict", "--model-dir", serving_root, "--signature", "serving_default",
                 "--json", "great film"]) == 0
    [record] = _json_lines(capsys.readouterr().out)
    assert math.isclose(record["probability"], reference.probabilities(
        EXAMPLES_SIGNATURE, ["great film"])[0], abs_tol=TOLERANCE)


@pytest.mark.parametrize("transport", ["--rest", "--grpc"])
def test_cli_server_error_is_one_line(standins, transport, capsys):
    rest, grpc_server = standins
    address = rest.url if transport == "--rest" else grpc_server.target
    assert main(["predict", transport, address, "--version", "7", "fine"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("imdb-pipeline: ") and captured.err.count("\n") == 1
    assert ("404" if transport == "--rest" else "NOT_FOUND") in captured.err


@pytest.mark.parametrize("transport", ["--rest", "--grpc"])
def test_cli_unreachable_server_exits_non_zero_without_traceback(transport):
    port = free_port()
    address = f"http://127.0.0.1:{port}" if transport == "--rest" else f"127.0.0.1:{port}"
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "predict", transport, address, "--retries", "1",
         "great film"], capture_output=True, text=True, timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    ours = [line for line in result.stderr.splitlines() if line.startswith("imdb-pipeline:")]
    assert len(ours) == 1 and "refused" in ours[0].lower() and "after 2 attempts" in ours[0]
    if transport == "--rest":  # This path imports neither TensorFlow nor TFX: nothing else.
        assert result.stderr.splitlines() == ours


def test_cli_usage_errors(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["predict", "--rest", "http://x", "--grpc", "y:1", "fine"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        main(["predict", "--rest", "http://x", "--version", "1", "--label", "stable", "fine"])
    assert main(["predict", "--model-dir", "x", "--label", "stable", "fine"]) == 2
    assert main(["predict", "--rest", "http://x", "--batch-size", "0", "fine"]) == 2
    assert "imdb-pipeline: predict: batch_size must be >= 1" in capsys.readouterr().err
    capsys.readouterr()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    options = ClientOptions()  # The defaults the help names are the client's.
    for default in (options.batch_size, options.timeout, options.retries):
        assert f"[default: {default!r}]" in help_text
