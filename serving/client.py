"""Clients for the exported model: in process, TF Serving's REST API and its gRPC API.

    client = RestClient("http://localhost:8501", ModelTarget("imdb", label="stable"),
                        ClientOptions(signature=CLASSIFY_SIGNATURE))
    client.predict(["What a wonderful film!"])   # -> [Prediction(probability=0.93, ...)]

All three clients take the same options (`ClientOptions`) and answer with one `Prediction` per
review, in order. Every failure a caller can meet at the serving boundary (server error, model,
version, label or signature not found, bad input, unreachable server, timeout) is raised as one
exception type, `ServingError`, whose message is a single line.

One job per piece:
  ModelTarget                model name + version or label -> REST path, gRPC ModelSpec
  build_rest_request(...)    reviews -> (method, path, JSON body): no I/O, golden-tested
  build_grpc_request(...)    reviews -> (RPC name, request proto): no I/O, golden-tested
  parse_*                    server answers -> [Prediction] / metadata
  Backoff                    retries with exponential backoff, only for retryable failures
  LocalClient, RestClient, GrpcClient   send the requests (batching is shared)

Names of signatures and tensors come from `contract/signatures.py`, the serving contract.
Reviews may be `str` (UTF-8 text), `bytes` (raw text, sent as base64 over REST), a
`tf.train.Example`, or `SerializedExample` bytes sent unchanged (Example signatures only).
"""
import base64
import dataclasses
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from contract.signatures import (CLASS_NAMES, CLASSIFY_CLASSES, CLASSIFY_INPUT, CLASSIFY_SCORES,
                                CLASSIFY_SIGNATURE, EXAMPLES_INPUT, EXAMPLES_OUTPUT,
                                EXAMPLES_SIGNATURE, RAW_TEXT_INPUT, RAW_TEXT_OUTPUT,
                                RAW_TEXT_SIGNATURE)
from contract.errors import UserError
from contract.names import DEFAULT_MODEL_NAME, DEFAULT_TEXT_FEATURE
from serving.versions import SAVED_MODEL_FILE, loadable_versions, version_dirs

METADATA_FIELD = "signature_def"  # The one metadata field TF Serving supports.
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ServingError(UserError):
    """A server error, an unreachable server or bad input, with a one-line message.

    `code` is the gRPC status name ("NOT_FOUND", "INVALID_ARGUMENT", "UNAVAILABLE", ...) or
    "HTTP <status>"; `retryable` is True only for failures worth retrying (gRPC UNAVAILABLE,
    HTTP 503, connection refused).
    """

    def __init__(self, message: str, code: str = "", retryable: bool = False):
        super().__init__(one_line(message))
        self.code = code
        self.retryable = retryable


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


_TF_NOISE = re.compile(r"Graph execution error:|Detected at node \S+ defined at \(most recent "
                       r"call last\):|<stack traces unavailable>|\[\[\{\{node [^}]*\}\}\]\]|"
                       r"\[Op:[^\]]*\]|\{\{function_node [^}]*\}\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(message: str, limit: int = 400) -> str:
    """Whitespace runs (newlines included) collapsed, TensorFlow's stack noise dropped."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _TF_NOISE.sub(" ", str(message)))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tf_error_message(error: BaseException) -> Tuple[str, str]:
    """(gRPC status name, one-line message) for an exception raised by a signature call.

    TensorFlow's errors carry their gRPC code. One case needs care: when the message of a TF
    error holds bytes that are not UTF-8 (ParseExample quotes the input it could not parse),
    TF raises `UnicodeDecodeError` instead; its `object` still holds the whole message.
    """
    import tensorflow as tf

    if isinstance(error, tf.errors.OpError):
        import grpc

        code = {c.value[0]: c.name for c in grpc.StatusCode}.get(error.error_code, "UNKNOWN")
        return code, one_line(error.message)
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
        return "INVALID_ARGUMENT", one_line(error.object.decode("utf-8", "replace"))
    return "INVALID_ARGUMENT", one_line(f"{type(error).__name__}: {error}")


# ------------------------------------------------------------------------------------------
# Options and model selection


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


@dataclasses.dataclass(frozen=True)
class ClientOptions:
    """What every client shares. `retries` counts extra attempts after the first."""

    signature: str = RAW_TEXT_SIGNATURE
    # The raw feature the Example signatures parse: the pipeline's --text-feature.
    text_feature: str = DEFAULT_TEXT_FEATURE
    batch_size: int = 256
    timeout: float = 30.0
    retries: int = 2

    def __post_init__(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {self.timeout}")


@dataclasses.dataclass
class Backoff:
    """Exponential backoff (initial, initial*multiplier, ... capped at maximum) between retries.

    Only `ServingError`s with `retryable=True` are retried; any other error is raised at once.
    """

    retries: int = 2
    initial: float = 0.1
    multiplier: float = 2.0
    maximum: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def delays(self) -> List[float]:
        return [min(self.initial * self.multiplier ** i, self.maximum)
                for i in range(self.retries)]

    def call(self, attempt: Callable[[], Any]) -> Any:
        delays = self.delays()
        for tries in range(1, len(delays) + 2):
            try:
                return attempt()
            except ServingError as error:
                if not error.retryable:
                    raise
                if tries > len(delays):
                    suffix = f" (after {tries} attempts)" if tries > 1 else ""
                    raise ServingError(f"{error}{suffix}", error.code, True) from None
                self.sleep(delays[tries - 1])


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
    if signature == EXAMPLES_SIGNATURE:
        name, values = EXAMPLES_INPUT, [serialize_example(r, text_feature) for r in reviews]
    else:
        name, values = RAW_TEXT_INPUT, [_text_bytes(r) for r in reviews]
    request = predict_pb2.PredictRequest(model_spec=spec)
    request.inputs[name].CopyFrom(
        tf.make_tensor_proto(values, dtype=tf.string, shape=[len(values)]))
    return "Predict", request


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


_LOADED: Dict[str, Any] = {}  # realpath -> tf.saved_model.load(...): each dir loads once.
_LOAD_LOCK = threading.Lock()


def load_saved_model(model_dir: str):
    """tf.saved_model.load, once per directory per process (symlinks resolved)."""
    import tensorflow as tf

    real = os.path.realpath(model_dir)
    with _LOAD_LOCK:
        if real not in _LOADED:
            _LOADED[real] = tf.saved_model.load(real)
        return _LOADED[real]


def read_signature_defs(model_dir: str):
    """The SignatureDefs in a SavedModel's saved_model.pb (what TF Serving reports)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0].signature_def


# ------------------------------------------------------------------------------------------
# Clients


class Client:
    """Batching and the signature choice; subclasses send one batch."""

    def __init__(self, options: ClientOptions):
        self.options = options

    @property
    def signature(self) -> str:
        return self.options.signature

    def predict(self, reviews: Sequence[Review]) -> List[Prediction]:
        """One Prediction per review, in order; an empty list sends nothing."""
        reviews = list(reviews)
        size = self.options.batch_size
        predictions: List[Prediction] = []
        for start in range(0, len(reviews), size):
            batch = reviews[start:start + size]
            predictions.extend(self._predict_batch(batch))
        return predictions

    def _predict_batch(self, batch: List[Review]) -> List[Prediction]:
        raise NotImplementedError

    def metadata(self) -> Dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def resolve_model_dir(path: str, version: Optional[int] = None) -> str:
    """A SavedModel dir as given, or version N / the newest complete version of a serving dir."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(path):
        raise ServingError(f"no model directory {path}", "NOT_FOUND")
    has_model = tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE))
    versions = version_dirs(path)
    # A version without saved_model.pb is a push still copying (it is written last) or a
    # failed one: what TF Serving would not load either.
    complete = loadable_versions(path)
    if version is not None:
        if version not in versions:
            raise ServingError(f"no version {version} in {path} (versions: {versions})",
                               "NOT_FOUND")
        if version not in complete:
            raise ServingError(f"version {version} in {path} has no {SAVED_MODEL_FILE} yet "
                               "(a copy in progress or a failed push)", "NOT_FOUND")
        return os.path.join(path, str(version))
    if has_model:
        return path
    if not versions:
        raise ServingError(f"{path} holds neither {SAVED_MODEL_FILE} nor numbered versions",
                           "NOT_FOUND")
    if not complete:
        raise ServingError(f"no complete version in {path}: none of {versions} holds "
                           f"{SAVED_MODEL_FILE} yet", "NOT_FOUND")
    return os.path.join(path, str(complete[-1]))


class LocalClient(Client):
    """Runs the SavedModel's signatures in this process (no server)."""

    def __init__(self, model_dir: str, options: ClientOptions = ClientOptions(),
                 version: Optional[int] = None):
        super().__init__(options)
        self.model_dir = resolve_model_dir(model_dir, version)
        self._model = load_saved_model(self.model_dir)
        if options.signature not in self._model.signatures:
            raise ServingError(f"the model in {self.model_dir} has no signature "
                               f"{options.signature!r} (it has "
                               f"{sorted(self._model.signatures)})", "INVALID_ARGUMENT")
        self._function = self._model.signatures[options.signature]

    def _predict_batch(self, batch: List[Review]) -> List[Prediction]:
        import tensorflow as tf

        signature, feature = self.signature, self.options.text_feature
        if signature == CLASSIFY_SIGNATURE:  # As over gRPC/REST: only parseable tf.Examples.
            name, values = CLASSIFY_INPUT, [to_example(r, feature).SerializeToString()
                                            for r in batch]
        elif signature == EXAMPLES_SIGNATURE:
            name, values = EXAMPLES_INPUT, [serialize_example(r, feature) for r in batch]
        else:
            name, values = RAW_TEXT_INPUT, [_text_bytes(r) for r in batch]
        try:
            outputs = self._function(**{name: tf.constant(values, tf.string, [len(values)])})
        except Exception as error:  # TF errors, and the UnicodeDecodeError it can raise.
            code, message = tf_error_message(error)
            raise ServingError(f"{self.model_dir} {signature}: {code}: {message}", code)
        if signature == CLASSIFY_SIGNATURE:
            classes = outputs[CLASSIFY_CLASSES].numpy()
            scores = outputs[CLASSIFY_SCORES].numpy()
            return _check_count([_class_scores(zip(c, s)) for c, s in zip(classes, scores)],
                                len(batch))
        values = outputs[_output_name(signature)].numpy()
        return _check_count([Prediction(_probability(v.tolist())) for v in values], len(batch))

    def metadata(self) -> Dict[str, Any]:
        base = os.path.basename(os.path.normpath(self.model_dir))
        return normalize_signature_defs(read_signature_defs(self.model_dir), "local",
                                        int(base) if base.isdigit() else None)


class RestClient(Client):
    """TF Serving's REST API over the standard library (urllib, json, base64)."""

    def __init__(self, url: str, target: ModelTarget = ModelTarget(),
                 options: ClientOptions = ClientOptions(), backoff: Optional[Backoff] = None):
        super().__init__(options)
        if not re.match(r"^https?://", url):
            url = "http://" + url
        self.url = url.rstrip("/")
        self.target = target
        self.backoff = backoff or Backoff(retries=options.retries)

    def _predict_batch(self, batch: List[Review]) -> List[Prediction]:
        request = build_rest_request(self.target, self.signature, batch,
                                     self.options.text_feature)
        return parse_rest_response(self.signature, self.send(request), len(batch))

    def metadata(self) -> Dict[str, Any]:
        return parse_rest_metadata(self.send(build_rest_metadata_request(self.target)))

    def status(self) -> Dict[str, Any]:
        """GET /v1/models/NAME[...]: the version states, as TF Serving answers them."""
        return self.send(build_rest_status_request(self.target))

    def send(self, request: RestRequest) -> Dict[str, Any]:
        """One REST call with retries; the decoded JSON answer."""
        return self.backoff.call(lambda: self._send_once(request))

    def _send_once(self, request: RestRequest) -> Dict[str, Any]:
        where = f"REST {self.url}{request.path}"
        http_request = urllib.request.Request(
            self.url + request.path, data=request.data(), method=request.method,
            headers={"Content-Type": "application/json"} if request.body is not None else {})
        try:
            with urllib.request.urlopen(http_request, timeout=self.options.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            raise ServingError(f"{where}: HTTP {error.code}: {_rest_error_text(error.read())}",
                               f"HTTP {error.code}", retryable=error.code == 503) from None
        except urllib.error.URLError as error:
            reason = error.reason
            refused = isinstance(reason, ConnectionRefusedError)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ServingError(f"{where}: timed out after {self.options.timeout} s",
                                   "DEADLINE_EXCEEDED") from None
            raise ServingError(f"{where}: cannot connect: {reason}",
                               "UNAVAILABLE", retryable=refused) from None
        except (socket.timeout, TimeoutError):
            raise ServingError(f"{where}: timed out after {self.options.timeout} s",
                               "DEADLINE_EXCEEDED") from None
        except ConnectionError as error:  # Reset or refused while talking.
            raise ServingError(f"{where}: connection failed: {error}", "UNAVAILABLE",
                               retryable=isinstance(error, ConnectionRefusedError)) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise ServingError(f"{where}: the answer is not JSON: {raw[:200]!r}",
                               "INTERNAL") from None


def _rest_error_text(body: bytes) -> str:
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict) and "error" in decoded:
            return str(decoded["error"])
    except ValueError:
        pass
    return body.decode("utf-8", "replace")[:300] or "(empty answer)"


class GrpcClient(Client):
    """TF Serving's gRPC PredictionService (Predict, Classify, GetModelMetadata)."""

    def __init__(self, target_address: str, target: ModelTarget = ModelTarget(),
                 options: ClientOptions = ClientOptions(), backoff: Optional[Backoff] = None):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        super().__init__(options)
        self.address = target_address
        self.target = target
        self.backoff = backoff or Backoff(retries=options.retries)
        self._channel = grpc.insecure_channel(target_address, options=[
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)])
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _predict_batch(self, batch: List[Review]) -> List[Prediction]:
        method, request = build_grpc_request(self.target, self.signature, batch,
                                             self.options.text_feature)
        return parse_grpc_response(self.signature, self.call(method, request), len(batch))

    def metadata(self) -> Dict[str, Any]:
        return parse_grpc_metadata(self.call("GetModelMetadata",
                                             build_grpc_metadata_request(self.target)))

    def call(self, method: str, request):
        """One RPC with retries (only on UNAVAILABLE)."""
        return self.backoff.call(lambda: self._call_once(method, request))

    def _call_once(self, method: str, request):
        import grpc

        try:
            return getattr(self._stub, method)(request, timeout=self.options.timeout)
        except grpc.RpcError as error:
            code = error.code()
            raise ServingError(f"gRPC {self.address} {method}: {code.name}: {error.details()}",
                               code.name, retryable=code == grpc.StatusCode.UNAVAILABLE
                               ) from None

    def close(self) -> None:
        self._channel.close()


def make_client(*, model_dir: Optional[str] = None, rest: Optional[str] = None,
                grpc_target: Optional[str] = None, model_name: str = DEFAULT_MODEL_NAME,
                version: Optional[int] = None, label: Optional[str] = None,
                options: ClientOptions = ClientOptions()) -> Client:
    """Exactly one of model_dir / rest / grpc_target picks the client."""
    given = [x for x in (model_dir, rest, grpc_target) if x]
    if len(given) != 1:
        raise ValueError("give exactly one of model_dir, rest, grpc_target")
    if model_dir:
        if label is not None:
            raise ValueError("version labels need a server (--rest or --grpc)")
        return LocalClient(model_dir, options, version)
    target = ModelTarget(model_name, version, label)
    if rest:
        return RestClient(rest, target, options)
    return GrpcClient(grpc_target, target, options)
