"""TF Serving's wire formats: reviews -> REST bodies and gRPC protos, answers -> predictions.

No I/O here, so the exact bodies and protos are golden-tested (tests/serving/test_client.py):
  ModelTarget                model name + version or label -> REST path, gRPC ModelSpec
  build_rest_request(...)    reviews -> (method, path, JSON body)
  build_grpc_request(...)    reviews -> (RPC name, request proto)
  signature_input(...)       reviews -> (input alias, values) for a signature run in process
  parse_*                    answers (server or in process) -> [Prediction] / metadata

Formats: tensorflow.org/tfx/serving/api_rest and the PredictionService protos of
`tensorflow-serving-api`. Names of signatures and tensors come from `contract/signatures.py`.
Reviews may be `str` (UTF-8 text), `bytes` (raw text, sent as base64 over REST), a
`tf.train.Example`, or `SerializedExample` bytes sent unchanged (Example signatures only).
"""
import base64
import dataclasses
import json
import urllib.parse
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from contract.names import DEFAULT_MODEL_NAME, DEFAULT_TEXT_FEATURE
from contract.signatures import (CLASS_NAMES, CLASSIFY_CLASSES, CLASSIFY_INPUT,
                                CLASSIFY_SCORES, CLASSIFY_SIGNATURE,
                                EXAMPLES_INPUT, EXAMPLES_OUTPUT, EXAMPLES_SIGNATURE,
                                RAW_TEXT_INPUT, RAW_TEXT_OUTPUT, RAW_TEXT_SIGNATURE)
from serving.errors import ServingError

METADATA_FIELD = "signature_def"  # The one metadata field TF Serving supports.


class SerializedExample(bytes):
    """Bytes sent as a serialized tf.Example exactly as given (e.g. read from a TFRecord)."""


Review = Union[str, bytes, SerializedExample, Any]  # Any: tf.train.Example


@dataclasses.dataclass(frozen=True)
class Prediction:
    """P(positive) for one review; `scores` holds every class's score (classify only)."""

    probability: float
    scores: Optional[Dict[str, float]] = None

    @property
    def label(self) -> str:
        return CLASS_NAMES[1] if self.probability >= 0.5 else CLASS_NAMES[0]


@dataclasses.dataclass(frozen=True)
class ModelTarget:
    """A model name and at most one of version / label (TF Serving's ModelSpec)."""

    name: str = DEFAULT_MODEL_NAME
    version: Optional[int] = None
    label: Optional[str] = None

    def __post_init__(self):
        if self.version is not None and self.label is not None:
            raise ValueError("give a model version or a version label, not both")
        if not self.name:
            raise ValueError("the model name must not be empty")

    def rest_path(self) -> str:
        """/v1/models/NAME[/versions/N|/labels/L]"""
        path = "/v1/models/" + urllib.parse.quote(self.name, safe="")
        if self.version is not None:
            path += f"/versions/{int(self.version)}"
        elif self.label is not None:
            path += "/labels/" + urllib.parse.quote(self.label, safe="")
        return path

    def model_spec(self, signature_name: str = ""):
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.name, signature_name=signature_name)
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.label is not None:
            spec.version_label = self.label
        return spec


# ------------------------------------------------------------------------------------------
# Turning reviews into tensors and tf.Examples


def _text_bytes(review: Review) -> bytes:
    if isinstance(review, str):
        return review.encode("utf-8", "surrogateescape")
    if isinstance(review, bytes) and not isinstance(review, SerializedExample):
        return bytes(review)
    raise ServingError(f"{RAW_TEXT_SIGNATURE} takes review text (str or bytes), not "
                       f"{type(review).__name__}", "INVALID_ARGUMENT")


def to_example(review: Review, text_feature: str = DEFAULT_TEXT_FEATURE):
    """A tf.train.Example holding a review text as `text_feature`; Examples pass through."""
    import tensorflow as tf

    if isinstance(review, tf.train.Example):
        return review
    if isinstance(review, SerializedExample):
        try:
            return tf.train.Example.FromString(bytes(review))
        except Exception:  # protobuf's DecodeError
            raise ServingError("the bytes given as a serialized tf.Example do not parse as "
                               "one", "INVALID_ARGUMENT") from None
    if not isinstance(review, (str, bytes)):
        raise ServingError("a review must be str, bytes, tf.train.Example or SerializedExample, "
                           f"not {type(review).__name__}", "INVALID_ARGUMENT")
    example = tf.train.Example()
    example.features.feature[text_feature].bytes_list.value.append(_text_bytes(review))
    return example


def serialize_example(review: Review, text_feature: str = DEFAULT_TEXT_FEATURE) -> bytes:
    if isinstance(review, SerializedExample):
        return bytes(review)
    return to_example(review, text_feature).SerializeToString()


def _b64(data: bytes) -> Dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}


def _json_text(review: Review):
    """A JSON string for str; {"b64": ...} for bytes (which may not be UTF-8)."""
    return review if isinstance(review, str) else _b64(_text_bytes(review))


def _example_to_json(example) -> Dict[str, Any]:
    """A tf.train.Example as the JSON object TF Serving's :classify reads (one value -> scalar)."""
    features = {}
    for name, feature in sorted(example.features.feature.items()):
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if kind == "bytes_list":
            values = [_b64(v) if _needs_b64(v) else v.decode("utf-8") for v in values]
        features[name] = values[0] if len(values) == 1 else values
    return features


def _needs_b64(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _classify_example_json(review: Review, text_feature: str) -> Dict[str, Any]:
    if isinstance(review, (str, bytes)) and not isinstance(review, SerializedExample):
        return {text_feature: _json_text(review)}
    return _example_to_json(to_example(review, text_feature))


# ------------------------------------------------------------------------------------------
# Request builders: no I/O, so the exact bodies and protos can be golden-tested


@dataclasses.dataclass(frozen=True)
class RestRequest:
    method: str
    path: str  # Relative to the server URL, e.g. /v1/models/imdb:predict
    body: Optional[Dict[str, Any]] = None

    def data(self) -> Optional[bytes]:
        return None if self.body is None else json.dumps(self.body).encode("utf-8")


def build_rest_request(target: ModelTarget, signature: str, reviews: Sequence[Review],
                       text_feature: str = DEFAULT_TEXT_FEATURE) -> RestRequest:
    """The TF Serving REST call for one batch (docs: tensorflow.org/tfx/serving/api_rest)."""
    if signature == CLASSIFY_SIGNATURE:
        return RestRequest("POST", target.rest_path() + ":classify", {
            "signature_name": signature,
            "examples": [_classify_example_json(r, text_feature) for r in reviews]})
    if signature == EXAMPLES_SIGNATURE:
        instances = [_b64(serialize_example(r, text_feature)) for r in reviews]
    else:  # serving_raw_text, and any other name: review strings (the server decides).
        instances = [_json_text(r) for r in reviews]
    return RestRequest("POST", target.rest_path() + ":predict",
                       {"signature_name": signature, "instances": instances})


def build_rest_metadata_request(target: ModelTarget) -> RestRequest:
    return RestRequest("GET", target.rest_path() + "/metadata")


def build_rest_status_request(target: ModelTarget) -> RestRequest:
    return RestRequest("GET", target.rest_path())


def build_grpc_request(target: ModelTarget, signature: str, reviews: Sequence[Review],
                       text_feature: str = DEFAULT_TEXT_FEATURE):
    """("Predict" or "Classify", PredictRequest or ClassificationRequest) for one batch."""
    import tensorflow as tf
    from tensorflow_serving.apis import classification_pb2, predict_pb2

    spec = target.model_spec(signature)
    if signature == CLASSIFY_SIGNATURE:
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        request.input.example_list.examples.extend(to_example(r, text_feature) for r in reviews)
        return "Classify", request
    name, values = signature_input(signature, reviews, text_feature)
    request = predict_pb2.PredictRequest(model_spec=spec)
    request.inputs[name].CopyFrom(
        tf.make_tensor_proto(values, dtype=tf.string, shape=[len(values)]))
    return "Predict", request


def signature_input(signature: str, reviews: Sequence[Review],
                    text_feature: str = DEFAULT_TEXT_FEATURE) -> Tuple[str, List[bytes]]:
    """(input alias, one string per review) that a signature takes, as the servers feed it.

    Classify takes only parseable tf.Examples (TF Serving parses them before the model runs).
    """
    if signature == CLASSIFY_SIGNATURE:
        return CLASSIFY_INPUT, [to_example(r, text_feature).SerializeToString() for r in reviews]
    if signature == EXAMPLES_SIGNATURE:
        return EXAMPLES_INPUT, [serialize_example(r, text_feature) for r in reviews]
    return RAW_TEXT_INPUT, [_text_bytes(r) for r in reviews]


def build_grpc_metadata_request(target: ModelTarget):
    from tensorflow_serving.apis import get_model_metadata_pb2

    return get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec=target.model_spec(), metadata_field=[METADATA_FIELD])



# ------------------------------------------------------------------------------------------
# Answers -> predictions and metadata


def _output_name(signature: str) -> str:
    return EXAMPLES_OUTPUT if signature == EXAMPLES_SIGNATURE else RAW_TEXT_OUTPUT


def _check_count(predictions: List[Prediction], expected: int) -> List[Prediction]:
    if len(predictions) != expected:
        raise ServingError(f"the server answered {len(predictions)} predictions for "
                           f"{expected} reviews", "INTERNAL")
    return predictions


def _probability(value: Any) -> float:
    while isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ServingError(f"expected one probability per review, got {value!r}",
                               "INTERNAL")
        value = value[0]
    return float(value)


def _class_scores(pairs: Sequence[Tuple[Any, float]]) -> Prediction:
    scores = {(label.decode("utf-8") if isinstance(label, bytes) else str(label)): float(score)
              for label, score in pairs}
    if CLASS_NAMES[1] not in scores:
        raise ServingError(f"no class {CLASS_NAMES[1]!r} among the classes "
                           f"{sorted(scores)} the server answered", "INTERNAL")
    return Prediction(scores[CLASS_NAMES[1]], scores)


def parse_rest_response(signature: str, body: Dict[str, Any], count: int) -> List[Prediction]:
    if signature == CLASSIFY_SIGNATURE:
        # TF Serving writes "results" (json_tensor.cc); its docs once said "result".
        results = body.get("results", body.get("result"))
        if not isinstance(results, list):
            raise ServingError(f"no 'results' in the answer: {str(body)[:200]}", "INTERNAL")
        return _check_count([_class_scores(pairs) for pairs in results], count)
    predictions = body.get("predictions")
    if not isinstance(predictions, list):
        raise ServingError(f"no 'predictions' in the answer: {str(body)[:200]}", "INTERNAL")
    output = _output_name(signature)
    return _check_count([Prediction(_probability(p[output] if isinstance(p, dict) else p))
                         for p in predictions], count)


def parse_grpc_response(signature: str, response, count: int) -> List[Prediction]:
    import tensorflow as tf

    if signature == CLASSIFY_SIGNATURE:
        return _check_count([_class_scores([(c.label, c.score) for c in item.classes])
                             for item in response.result.classifications], count)
    output = _output_name(signature)
    if output not in response.outputs:
        raise ServingError(f"no output {output!r} in the answer (outputs: "
                           f"{sorted(response.outputs)})", "INTERNAL")
    values = tf.make_ndarray(response.outputs[output])
    return _check_count([Prediction(_probability(v.tolist())) for v in values], count)


def parse_signature_outputs(signature: str, outputs: Dict[str, Any], count: int
                            ) -> List[Prediction]:
    """Predictions from a signature run in process ({alias: NumPy array})."""
    if signature == CLASSIFY_SIGNATURE:
        pairs = zip(outputs[CLASSIFY_CLASSES], outputs[CLASSIFY_SCORES])
        return _check_count([_class_scores(list(zip(c, s))) for c, s in pairs], count)
    values = outputs[_output_name(signature)]
    return _check_count([Prediction(_probability(v.tolist())) for v in values], count)


def _shape(tensor_info) -> Optional[List[int]]:
    shape = tensor_info.tensor_shape
    return None if shape.unknown_rank else [d.size for d in shape.dim]


def normalize_signature_defs(signature_defs, name: str, version: Optional[int]
                             ) -> Dict[str, Any]:
    """The same plain dict from any source of SignatureDefs (gRPC, REST JSON, saved_model.pb)."""
    from tensorflow.core.framework import types_pb2

    def tensors(infos):
        return {alias: {"dtype": types_pb2.DataType.Name(info.dtype), "shape": _shape(info)}
                for alias, info in sorted(infos.items())}

    return {"name": name, "version": version, "signatures": {
        key: {"method_name": sig.method_name, "inputs": tensors(sig.inputs),
              "outputs": tensors(sig.outputs)}
        for key, sig in sorted(signature_defs.items())}}


def parse_grpc_metadata(response) -> Dict[str, Any]:
    from tensorflow_serving.apis import get_model_metadata_pb2

    signature_map = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata[METADATA_FIELD].Unpack(signature_map):
        raise ServingError("the metadata holds no SignatureDefMap", "INTERNAL")
    spec = response.model_spec
    return normalize_signature_defs(signature_map.signature_def, spec.name,
                                    spec.version.value if spec.HasField("version") else None)


def parse_rest_metadata(body: Dict[str, Any]) -> Dict[str, Any]:
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2

    try:
        spec = json_format.ParseDict(body["model_spec"], model_pb2.ModelSpec(),
                                     ignore_unknown_fields=True)
        signature_map = json_format.ParseDict(body["metadata"][METADATA_FIELD],
                                              get_model_metadata_pb2.SignatureDefMap(),
                                              ignore_unknown_fields=True)
    except (KeyError, TypeError, json_format.ParseError) as error:
        raise ServingError(f"unexpected metadata answer: {error}", "INTERNAL") from None
    return normalize_signature_defs(signature_map.signature_def, spec.name,
                                    spec.version.value if spec.HasField("version") else None)
