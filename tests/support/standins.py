"""TEST STAND-INS for TF Serving: a gRPC PredictionService and a REST server, in process.

No TF Serving binary or Docker is available where the tests run, so these stand-ins answer the
same requests the way `tensorflow_model_server` does, backed by the real exported SavedModel
(`tf.saved_model.load`, once per version directory). They follow TF Serving's documented formats
(tensorflow.org/tfx/serving/api_rest) and, for shapes, messages and status codes, its sources
(http_rest_api_handler.cc, http_rest_api_util.cc, json_tensor.cc, predict_util.cc,
classifier.cc, get_model_metadata_impl.cc, get_model_status_impl.cc). They are NOT a server to
deploy: one model name, no batching, no model reloading, no monitoring.

    models = ServedModels.from_base_path(serving_dir, "imdb", labels={"stable": 1})
    with GrpcStandIn(models) as grpc_server, RestStandIn(models) as rest_server:
        GrpcClient(grpc_server.target) ... RestClient(rest_server.url) ...

Any error while answering (TensorFlow's included, e.g. bytes that are not a tf.Example) becomes
an error answer (gRPC status / HTTP status + {"error": ...}); it never stops the server.
For retry tests, `inject(count, code=..., delay=...)` makes the next `count` requests fail
with that status (UNAVAILABLE / 503 by default) or wait first.
"""
import base64
import binascii
import concurrent.futures
import json
import os
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Sequence, Tuple

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, model_pb2,
                                     predict_pb2, prediction_service_pb2_grpc)

from serving.versions import loadable_versions
from contract.signatures import (CLASSIFY_CLASSES, CLASSIFY_INPUT, CLASSIFY_METHOD_NAME,
                                CLASSIFY_SCORES)

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD_NAMES = ("tensorflow/serving/predict", CLASSIFY_METHOD_NAME,
                        "tensorflow/serving/regress")

# The one field GetModelMetadata serves (get_model_metadata_impl.cc).
METADATA_FIELD = "signature_def"
# TF Serving's gRPC server takes messages up to INT32_MAX bytes (model_servers/server.cc).
GRPC_MAX_MESSAGE_BYTES = 2 ** 31 - 1

# TensorFlow's error codes (error_codes.proto: the numbers of absl::StatusCode) -> the gRPC status
# TF Serving answers a failed model run with. Written out here, not taken from the client under
# test, so a client that maps a code wrongly fails its tests.
TF_ERROR_STATUS = {
    0: grpc.StatusCode.OK, 1: grpc.StatusCode.CANCELLED, 2: grpc.StatusCode.UNKNOWN,
    3: grpc.StatusCode.INVALID_ARGUMENT, 4: grpc.StatusCode.DEADLINE_EXCEEDED,
    5: grpc.StatusCode.NOT_FOUND, 6: grpc.StatusCode.ALREADY_EXISTS,
    7: grpc.StatusCode.PERMISSION_DENIED, 8: grpc.StatusCode.RESOURCE_EXHAUSTED,
    9: grpc.StatusCode.FAILED_PRECONDITION, 10: grpc.StatusCode.ABORTED,
    11: grpc.StatusCode.OUT_OF_RANGE, 12: grpc.StatusCode.UNIMPLEMENTED,
    13: grpc.StatusCode.INTERNAL, 14: grpc.StatusCode.UNAVAILABLE,
    15: grpc.StatusCode.DATA_LOSS, 16: grpc.StatusCode.UNAUTHENTICATED,
}

# absl::StatusCode -> HTTP status, as TF Serving's http_server.cc maps them.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500, grpc.StatusCode.UNAUTHENTICATED: 401,
}


class StandInError(Exception):
    """An answer with a non-OK status."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message: str) -> StandInError:
    return StandInError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _run_error(error: BaseException) -> StandInError:
    """A failed signature run as TF Serving answers it: the status of TensorFlow's error and
    its message as TensorFlow wrote it (several lines, stack noise and all)."""
    if isinstance(error, tf.errors.OpError):
        return StandInError(TF_ERROR_STATUS.get(error.error_code, grpc.StatusCode.UNKNOWN),
                            error.message)
    # TF's Python layer raises UnicodeDecodeError for a message quoting bytes that are not
    # UTF-8 (ParseExample's, for input that is no tf.Example); the C++ server sends the message.
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, bytes):
        return _invalid(error.object.decode("utf-8", "replace"))
    return _invalid(f"{type(error).__name__}: {error}")


_LOADED: Dict[str, Any] = {}  # realpath -> the loaded SavedModel: each version loads once.
_LOAD_LOCK = threading.Lock()


def _load(path: str):
    real = os.path.realpath(path)
    with _LOAD_LOCK:
        if real not in _LOADED:
            _LOADED[real] = tf.saved_model.load(real)
        return _LOADED[real]


def _signature_defs(path: str):
    """The SignatureDefs in saved_model.pb, which TF Serving reports and checks requests by."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0].signature_def


# ------------------------------------------------------------------------------------------
# The served model: versions, labels, signatures


class ServedVersion:
    """One loaded version: its SignatureDefs (metadata, checks) and callable signatures."""

    def __init__(self, version: int, path: str, loaded):
        self.version = version
        self.path = path
        self.loaded = loaded
        self.signature_defs = _signature_defs(path)

    def signature_def(self, name: str):
        return self.signature_defs.get(name)

    def run(self, signature_name: str, inputs: Dict[str, np.ndarray],
            output_filter: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        """Runs a signature as TF Serving's Predict does (predict_util.cc's checks)."""
        signature = self.signature_defs.get(signature_name)
        if signature is None:
            raise StandInError(grpc.StatusCode.FAILED_PRECONDITION,
                               f'Serving signature key "{signature_name}" not found.')
        if signature.method_name not in PREDICT_METHOD_NAMES:
            raise StandInError(grpc.StatusCode.INTERNAL,
                               "Expected prediction signature method_name to be one of "
                               f"{{{', '.join(PREDICT_METHOD_NAMES)}}}. Was: "
                               f"{signature.method_name}")
        expected, given = set(signature.inputs), set(inputs)
        if expected != given:
            raise _invalid(
                f"input size does not match signature: {len(given)}!={len(expected)} "
                f"len({{{','.join(sorted(given))}}}) != len({{{','.join(sorted(expected))}}}). "
                f"Sent extra: {{{','.join(sorted(given - expected))}}}. Missing but required: "
                f"{{{','.join(sorted(expected - given))}}}.")
        outputs_known = ",".join(sorted(signature.outputs))
        for alias in output_filter:
            if alias not in signature.outputs:
                raise _invalid(f"output tensor alias not found in signature: {alias} Outputs "
                               f"expected to be in the set {{{outputs_known}}}.")
        for alias, value in inputs.items():
            dtype = tf.as_dtype(signature.inputs[alias].dtype)
            if _dtype_of(value) != dtype:
                raise _invalid(f"Expects arg[{alias}] to be {dtype.name} but "
                               f"{_dtype_of(value).name} is provided")
        try:
            feeds = {alias: tf.constant(value, dtype=signature.inputs[alias].dtype)
                     for alias, value in inputs.items()}
            outputs = self.loaded.signatures[signature_name](**feeds)
        except Exception as error:  # Never let a request take the server down.
            raise _run_error(error) from None
        names = list(output_filter) or sorted(signature.outputs)
        return {name: outputs[name].numpy() for name in names}

    def classify(self, signature_name: str, serialized: List[bytes]) -> List[List[Tuple]]:
        """[(label, score), ...] per example, as TF Serving's classifier.cc builds them."""
        signature = self.signature_defs.get(signature_name)
        if signature is None:
            raise _invalid(f"No signature was found with the name: {signature_name}")
        if signature.method_name != CLASSIFY_METHOD_NAME:
            raise _invalid(f"Expected classification signature method_name to be "
                           f"{CLASSIFY_METHOD_NAME}. Was: {signature.method_name}")
        if len(signature.inputs) != 1:
            raise _invalid("Expected one input Tensor.")
        if CLASSIFY_INPUT not in signature.inputs:
            raise _invalid("No classification inputs found in SignatureDef")
        outputs_wanted = [n for n in (CLASSIFY_CLASSES, CLASSIFY_SCORES) if n in signature.outputs]
        if not outputs_wanted:
            raise _invalid('Expected classification signature outputs to contain at least one '
                           f'of "{CLASSIFY_CLASSES}" or "{CLASSIFY_SCORES}".')
        if not serialized:
            raise _invalid("Input is empty.")
        outputs = self.run(signature_name, {CLASSIFY_INPUT: np.array(serialized, dtype=object)},
                           outputs_wanted)
        classes, scores = outputs.get(CLASSIFY_CLASSES), outputs.get(CLASSIFY_SCORES)
        for name, tensor in ((CLASSIFY_CLASSES, classes), (CLASSIFY_SCORES, scores)):
            if tensor is not None and (tensor.ndim != 2 or len(tensor) != len(serialized)):
                raise _invalid(f"Expected {name} output of shape [{len(serialized)}, "
                               f"num_classes]. Got: {list(tensor.shape)}")
        rows = scores if scores is not None else classes
        return [[(classes[i][j].decode("utf-8", "replace") if classes is not None else "",
                  float(scores[i][j]) if scores is not None else 0.0)
                 for j in range(rows.shape[1])] for i in range(len(serialized))]


class ServedModels:
    """What TF Serving would serve for one model name: numbered versions and version labels.

    Like TF Serving's `model_version_policy { all {} }`: every numeric subdirectory of
    `base_path` is a version; no version or label means the newest. Each directory is loaded
    once per process (copies of one model are loaded once each).
    """

    def __init__(self, name: str, versions: Dict[int, str],
                 labels: Optional[Dict[str, int]] = None):
        if not versions:
            raise ValueError("no versions to serve")
        unknown = {k: v for k, v in (labels or {}).items() if v not in versions}
        if unknown:
            raise ValueError(f"labels point at versions that are not served: {unknown}")
        self.name = name
        self.labels = dict(labels or {})
        self.versions = {version: ServedVersion(version, path, _load(path))
                         for version, path in sorted(versions.items())}

    @classmethod
    def from_base_path(cls, base_path: str, name: str = "imdb",
                       labels: Optional[Dict[str, int]] = None) -> "ServedModels":
        versions = {version: os.path.join(base_path, str(version))
                    for version in loadable_versions(base_path)}
        return cls(name, versions, labels)

    def resolve(self, name: str, version: Optional[int] = None,
                label: Optional[str] = None) -> ServedVersion:
        """The version a ModelSpec asks for, with TF Serving's errors."""
        if label:
            if name != self.name or label not in self.labels:
                raise _invalid(f"Unrecognized servable version label: {label}")
            version = self.labels[label]
        if version is not None:
            if name != self.name or version not in self.versions:
                raise StandInError(grpc.StatusCode.NOT_FOUND,
                                   f"Servable not found for request: Specific({name}, {version})")
            return self.versions[version]
        if name != self.name:
            raise StandInError(grpc.StatusCode.NOT_FOUND,
                               f"Servable not found for request: Latest({name})")
        return self.versions[max(self.versions)]

    def resolve_spec(self, spec) -> ServedVersion:
        if not spec.name:
            raise _invalid("Missing ModelSpec")
        which = spec.WhichOneof("version_choice")
        return self.resolve(spec.name, spec.version.value if which == "version" else None,
                            spec.version_label if which == "version_label" else None)

    def status(self, name: str, version: Optional[int] = None,
               label: Optional[str] = None) -> Dict[str, Any]:
        """GET /v1/models/...: GetModelStatusResponse as TF Serving writes it in JSON.

        As in TF Serving's get_model_status_impl.cc, a label does not narrow the answer: only a
        version does (the label is not even checked).
        """
        if version is not None:
            if name != self.name or version not in self.versions:
                raise StandInError(grpc.StatusCode.NOT_FOUND,
                                   f"Could not find version {version} of model {name}")
            versions = [version]
        elif name != self.name:
            raise StandInError(grpc.StatusCode.NOT_FOUND,
                               f"Could not find any versions of model {name}")
        else:
            versions = sorted(self.versions, reverse=True)
        return {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE",
             "status": {"error_code": "OK", "error_message": ""}} for v in versions]}

    def metadata(self, spec, fields: Sequence[str]):
        """GetModelMetadataResponse (signature_def only, as TF Serving)."""
        if not fields:
            raise _invalid("GetModelMetadataRequest must specify at least one metadata_field")
        for field in fields:
            if field != METADATA_FIELD:
                raise _invalid(f"Metadata field {field} is not supported")
        served = self.resolve_spec(spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = served.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in served.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response.metadata[METADATA_FIELD].Pack(signature_map)
        return response


def _response_spec(served: ServedVersion, name: str, signature_name: str):
    spec = model_pb2.ModelSpec(name=name, signature_name=signature_name)
    spec.version.value = served.version
    return spec


def _dtype_of(array: np.ndarray) -> tf.DType:
    return tf.string if array.dtype == object else tf.as_dtype(array.dtype)


def _tensor_proto(array: np.ndarray):
    """Like TF Serving's default AsProtoField: values in the typed repeated field."""
    from tensorflow.core.framework import tensor_pb2

    dtype = _dtype_of(array)
    field = {tf.string: "string_val", tf.float32: "float_val", tf.float64: "double_val",
             tf.int32: "int_val", tf.int64: "int64_val", tf.bool: "bool_val"}.get(dtype)
    if field is None:
        return tf.make_tensor_proto(array)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum,
                                   tensor_shape=tf.TensorShape(array.shape).as_proto())
    getattr(proto, field).extend(array.ravel().tolist())
    return proto


def _examples_from_input(input_proto) -> List[bytes]:
    kind = input_proto.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in input_proto.example_list.examples]
    if kind == "example_list_with_context":
        with_context = input_proto.example_list_with_context
        serialized = []
        for example in with_context.examples:
            merged = tf.train.Example()
            merged.CopyFrom(with_context.context)
            merged.MergeFrom(example)
            serialized.append(merged.SerializeToString())
        return serialized
    raise _invalid("Input is empty.")


# ------------------------------------------------------------------------------------------
# Fault injection (for retry and timeout tests)


class _Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._queue: List[Tuple[Optional[grpc.StatusCode], float]] = []
        self.requests = 0

    def inject(self, count: int, code: Optional[grpc.StatusCode] = grpc.StatusCode.UNAVAILABLE,
               delay: float = 0.0) -> None:
        with self._lock:
            self._queue.extend([(code, delay)] * count)

    def next(self) -> Optional[grpc.StatusCode]:
        """Counts the request; sleeps and/or returns the status to fail it with, if injected."""
        with self._lock:
            self.requests += 1
            code, delay = self._queue.pop(0) if self._queue else (None, 0.0)
        if delay:
            time.sleep(delay)
        return code


# ------------------------------------------------------------------------------------------
# gRPC


class StandInPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """TEST STAND-IN for TF Serving's gRPC PredictionService: Predict, Classify, metadata."""

    def __init__(self, models: ServedModels, faults: Optional[_Faults] = None):
        self.models = models
        self.faults = faults or _Faults()

    def _answer(self, context, compute):
        code = self.faults.next()
        if code is not None:
            context.abort(code, "injected failure (stand-in)")
        try:
            return compute()
        except StandInError as error:
            failure = (error.code, error.message)
        except Exception as error:  # Anything else: an error answer, never a dead server.
            failure = (grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")
        context.abort(*failure)

    def Predict(self, request, context):
        def compute():
            served = self.models.resolve_spec(request.model_spec)
            signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
            inputs = {}
            for alias, proto in request.inputs.items():
                try:
                    inputs[alias] = tf.make_ndarray(proto)
                except Exception as error:
                    raise _invalid(f"input tensor {alias}: {error}") from None
            outputs = served.run(signature_name, inputs, list(request.output_filter))
            response = predict_pb2.PredictResponse(
                model_spec=_response_spec(served, self.models.name, signature_name))
            for alias, value in outputs.items():
                response.outputs[alias].CopyFrom(_tensor_proto(value))
            return response
        return self._answer(context, compute)

    def Classify(self, request, context):
        def compute():
            served = self.models.resolve_spec(request.model_spec)
            signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
            rows = served.classify(signature_name, _examples_from_input(request.input))
            response = classification_pb2.ClassificationResponse(
                model_spec=_response_spec(served, self.models.name, signature_name))
            for row in rows:
                classification = response.result.classifications.add()
                for label, score in row:
                    classification.classes.add(label=label, score=score)
            return response
        return self._answer(context, compute)

    def GetModelMetadata(self, request, context):
        return self._answer(context, lambda: self.models.metadata(
            request.model_spec, list(request.metadata_field)))


class GrpcStandIn:
    """Starts/stops the gRPC stand-in on 127.0.0.1 (a free port unless given)."""

    def __init__(self, models: ServedModels, port: int = 0, max_workers: int = 4):
        self.service = StandInPredictionService(models)
        self._server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=max_workers),
            options=[("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                     ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(self.service,
                                                                            self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        if not self.port:
            raise RuntimeError(f"cannot bind 127.0.0.1:{port}")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        return self.service.faults.requests

    def inject(self, count: int, code: Optional[grpc.StatusCode] = grpc.StatusCode.UNAVAILABLE,
               delay: float = 0.0) -> None:
        self.service.faults.inject(count, code, delay)

    def start(self) -> "GrpcStandIn":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=None)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# ------------------------------------------------------------------------------------------
# REST: JSON <-> tensors, as json_tensor.cc


_PREDICT_PATH = re.compile(r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
                           r":(classify|regress|predict)", re.IGNORECASE)
_STATUS_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
                          r"(?:/(metadata))?", re.IGNORECASE)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _b64_decode(value: Dict[str, Any]) -> bytes:
    if not isinstance(value["b64"], str):
        raise _invalid(f"JSON Value: {json.dumps(value)} Expecting base64 string as value")
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("Unable to base64 decode") from None


def _json_to_array(value: Any, dtype: tf.DType) -> np.ndarray:
    """A JSON value (scalar or nested lists) as a tensor of `dtype`."""
    def convert(item):
        if isinstance(item, list):
            return [convert(x) for x in item]
        if dtype == tf.string:
            if isinstance(item, str):
                return item.encode("utf-8")
            if _is_b64(item):
                return _b64_decode(item)
            raise _invalid(f"JSON Value: {json.dumps(item)} Type: {type(item).__name__} is not "
                           "of expected type: string")
        if isinstance(item, bool) or not isinstance(item, (int, float)) or (
                dtype.is_integer and isinstance(item, float)):
            raise _invalid(f"JSON Value: {json.dumps(item)} is not of expected type: "
                           f"{dtype.name}")
        return item

    converted = convert(value)
    try:
        return np.array(converted, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
    except ValueError as error:  # Ragged lists.
        raise _invalid(f"Failed to process the tensor: {error}") from None


def _stack(items: List[np.ndarray], name: str) -> np.ndarray:
    shapes = {item.shape for item in items}
    if len(shapes) > 1:
        raise _invalid(f"Expecting tensor size: {items[0].size} but got: "
                       f"{[i.size for i in items if i.shape != items[0].shape][0]} for input "
                       f"{name} (all instances must have the same shape)")
    return np.array([item.tolist() for item in items], dtype=items[0].dtype).reshape(
        (len(items),) + items[0].shape)


def inputs_from_json(body: Dict[str, Any], signature) -> Tuple[Dict[str, np.ndarray], str]:
    """(tensors, "row" or "columnar") from a :predict body's "instances" or "inputs"."""
    infos = signature.inputs
    dtypes = {alias: tf.as_dtype(info.dtype) for alias, info in infos.items()}
    if "instances" in body and "inputs" in body:
        raise _invalid("Not formatted correctly expecting only one of 'inputs' or "
                       "'instances' keys to exist")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise _invalid("Expecting 'instances' to be an list/array")
        if not instances:
            raise _invalid("No values in 'instances' array")
        as_objects = isinstance(instances[0], dict) and not _is_b64(instances[0])
        if not as_objects and len(infos) > 1:
            raise _invalid("instances is a plain list, but expecting list of objects as "
                           "multiple input tensors required as per tensorinfo_map")
        columns: Dict[str, List[np.ndarray]] = {alias: [] for alias in infos}
        for index, instance in enumerate(instances):
            is_object = isinstance(instance, dict) and not _is_b64(instance)
            if is_object != as_objects:
                raise _invalid(("Expecting object but got list" if as_objects else
                                "Expecting value/list but got object") +
                               f" at item {index} of input list")
            named = instance if as_objects else {next(iter(infos)): instance}
            if set(named) != set(infos):
                raise _invalid(f"Failed to process element: {index} of 'instances' list. JSON "
                               f"object: {json.dumps(instance)} keys must be equal to: "
                               f"{','.join(sorted(infos))}")
            for alias, value in named.items():
                columns[alias].append(_json_to_array(value, dtypes[alias]))
        return {alias: _stack(items, alias) for alias, items in columns.items()}, "row"
    if "inputs" in body:
        value = body["inputs"]
        if not isinstance(value, dict) or _is_b64(value):
            if len(infos) > 1:
                raise _invalid("inputs is a plain value/list, but expecting an object as "
                               "multiple input tensors required as per tensorinfo_map")
            alias = next(iter(infos))
            return {alias: _json_to_array(value, dtypes[alias])}, "columnar"
        missing = [alias for alias in infos if alias not in value]
        if missing:
            raise _invalid(f"Missing named input: {missing[0]} in 'inputs' object.")
        return {alias: _json_to_array(value[alias], dtypes[alias]) for alias in infos}, "columnar"
    raise _invalid("Missing 'inputs' or 'instances' key")


def _to_json(array: np.ndarray, name: str) -> Any:
    if array.dtype == object:
        as_b64 = name.endswith("_bytes")
        flat = [{"b64": base64.b64encode(v).decode("ascii")} if as_b64
                else v.decode("utf-8", "replace") for v in array.ravel()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    return array.tolist()


def outputs_to_json(outputs: Dict[str, np.ndarray], layout: str) -> Dict[str, Any]:
    """{"predictions": [...]} (row) or {"outputs": ...} (columnar), as json_tensor.cc."""
    if layout == "columnar":
        if len(outputs) == 1:
            (name, value), = outputs.items()
            return {"outputs": _to_json(value, name)}
        return {"outputs": {name: _to_json(v, name) for name, v in sorted(outputs.items())}}
    sizes = {len(v) for v in outputs.values() if v.ndim}
    if len(sizes) != 1 or any(v.ndim == 0 for v in outputs.values()):
        raise _invalid("Tensor outputs have inconsistent batch sizes or no batch dimension")
    rows = {name: _to_json(v, name) for name, v in outputs.items()}
    if len(rows) == 1:
        return {"predictions": next(iter(rows.values()))}
    count = sizes.pop()
    return {"predictions": [{name: rows[name][i] for name in sorted(rows)}
                            for i in range(count)]}


def _feature_from_json(name: str, content: Any, feature) -> None:
    values = content if isinstance(content, list) else [content]
    for value in values:
        if value is None or isinstance(value, list) or (isinstance(value, dict)
                                                        and not _is_b64(value)):
            raise _invalid(f"Feature: {name} has element with unexpected JSON type: "
                           f"{type(value).__name__}")
        if isinstance(value, (str, dict)):
            kind, item = "bytes_list", (value.encode("utf-8") if isinstance(value, str)
                                        else _b64_decode(value))
        elif isinstance(value, bool):
            kind, item = "int64_list", int(value)
        elif isinstance(value, int):
            kind, item = "int64_list", value
        else:
            kind, item = "float_list", value
        current = feature.WhichOneof("kind")
        if current not in (None, kind):
            raise _invalid(f"Unexpected element type in feature: {name} expecting type: "
                           f"{current.split('_')[0]}")
        getattr(feature, kind).value.append(item)


def examples_from_json(body: Dict[str, Any]) -> List[bytes]:
    """A :classify body's "examples" (and optional "context") as serialized tf.Examples."""
    def example(obj):
        if not isinstance(obj, dict):
            raise _invalid(f"Example must be JSON object but got JSON {type(obj).__name__}")
        proto = tf.train.Example()
        for name, content in obj.items():
            _feature_from_json(name, content, proto.features.feature[name])
        return proto

    context = example(body["context"]) if "context" in body else None
    if "examples" not in body:
        raise _invalid("When method is classify, key 'examples' is expected and was not found")
    if not isinstance(body["examples"], list):
        raise _invalid("Expecting 'examples' value to be an list/array")
    if not body["examples"]:
        raise _invalid("'examples' value is an empty array")
    serialized = []
    for obj in body["examples"]:
        proto = example(obj)
        if context is not None:
            merged = tf.train.Example()
            merged.CopyFrom(context)
            merged.MergeFrom(proto)
            proto = merged
        serialized.append(proto.SerializeToString())
    return serialized


def _metadata_json(response) -> Dict[str, Any]:
    from google.protobuf import json_format

    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[METADATA_FIELD].Unpack(signature_map)
    options = dict(including_default_value_fields=True, preserving_proto_field_name=True)
    return {"model_spec": json_format.MessageToDict(response.model_spec, **options),
            "metadata": {METADATA_FIELD: json_format.MessageToDict(signature_map, **options)}}


class StandInRestHandler(BaseHTTPRequestHandler):
    """TEST STAND-IN for TF Serving's REST API (GET status/metadata, POST :predict/:classify)."""

    server: "_RestServer"
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # Quiet: tests read answers, not access logs.
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            code = self.server.faults.next()
            if code is not None:
                raise StandInError(code, "injected failure (stand-in)")
            status, answer = 200, self._dispatch(method, urllib.parse.urlsplit(self.path).path,
                                                 body)
        except StandInError as error:
            status, answer = HTTP_STATUS.get(error.code, 500), {"error": error.message}
        except Exception as error:  # Never let a request take the server down.
            status, answer = 500, {"error": f"{type(error).__name__}: {error}"}
        data = json.dumps(answer, indent=2).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # The client gave up (its timeout).
            pass

    def _dispatch(self, method: str, path: str, body: bytes) -> Dict[str, Any]:
        models: ServedModels = self.server.models
        if not path.lower().startswith("/v1/"):
            raise StandInError(grpc.StatusCode.NOT_FOUND, f"No handler for {method} {path}")
        match = (_PREDICT_PATH if method == "POST" else _STATUS_PATH).fullmatch(path)
        if match is None:
            raise _invalid(f"Malformed request: {method} {path}")
        name, version, label, action = match.groups()
        name = urllib.parse.unquote(name or "")
        label = urllib.parse.unquote(label) if label else None
        version = int(version) if version else None
        if method == "GET":
            if not name:
                raise _invalid("Missing model name in request.")
            if action:
                spec = model_pb2.ModelSpec(name=name)
                if version is not None:
                    spec.version.value = version
                elif label:
                    spec.version_label = label
                return _metadata_json(models.metadata(spec, [METADATA_FIELD]))
            return models.status(name, version, label)
        served = models.resolve(name, version, label)
        request = self._json(body)
        signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature_name, str):
            raise _invalid("'signature_name' key must be a string value.")
        signature_name = signature_name or DEFAULT_SIGNATURE
        action = action.lower()
        if action == "classify":
            rows = served.classify(signature_name, examples_from_json(request))
            return {"results": [[[label_, score] for label_, score in row] for row in rows]}
        if action == "regress":
            raise StandInError(grpc.StatusCode.UNIMPLEMENTED, "regress: not in this stand-in")
        signature = served.signature_def(signature_name)
        if signature is None:
            raise _invalid(f'Serving signature name: "{signature_name}" not found in '
                           "signature def")
        inputs, layout = inputs_from_json(request, signature)
        return outputs_to_json(served.run(signature_name, inputs), layout)

    @staticmethod
    def _json(body: bytes) -> Dict[str, Any]:
        try:
            request = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError) as error:
            raise _invalid(f"JSON Parse error: {error}") from None
        if request is None:
            raise _invalid("JSON Parse error: The document is empty")
        if not isinstance(request, dict):
            raise _invalid(f"JSON Value: {json.dumps(request)[:100]} Is not object")
        return request


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, models: ServedModels):
        super().__init__(address, StandInRestHandler)
        self.models = models
        self.faults = _Faults()


class RestStandIn:
    """Starts/stops the REST stand-in on 127.0.0.1 (a free port unless given)."""

    def __init__(self, models: ServedModels, port: int = 0):
        self._server = _RestServer(("127.0.0.1", port), models)
        self.port = self._server.server_address[1]
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        return self._server.faults.requests

    def inject(self, count: int, code: Optional[grpc.StatusCode] = grpc.StatusCode.UNAVAILABLE,
               delay: float = 0.0) -> None:
        """Fail the next `count` requests with `code` (UNAVAILABLE = HTTP 503), or delay them."""
        self._server.faults.inject(count, code, delay)

    def start(self) -> "RestStandIn":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
