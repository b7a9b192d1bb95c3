"""Clients for the exported model: in process, TF Serving's REST API and its gRPC API.

    client = RestClient("http://localhost:8501", ModelTarget("imdb", label="stable"),
                        ClientOptions(signature=CLASSIFY_SIGNATURE))
    client.predict(["What a wonderful film!"])   # -> [Prediction(probability=0.93, ...)]

All three clients take the same options (`ClientOptions`) and answer with one `Prediction` per
review, in order. Every failure a caller can meet at the serving boundary (server error, model,
version, label or signature not found, bad input, unreachable server, timeout) is raised as one
exception type, `ServingError` (serving/errors.py), whose message is a single line.

This module sends; the requests and answers are built and read in serving/wire.py, the
SavedModel is found and loaded by serving/saved_models.py. `Backoff` retries only retryable
failures; batching is shared by the three clients.
"""
import dataclasses
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence

from contract.names import DEFAULT_MODEL_NAME, DEFAULT_TEXT_FEATURE
from contract.settings import setting
from contract.signatures import (CLASSIFY_SIGNATURE, EXAMPLES_SIGNATURE,
                                RAW_TEXT_SIGNATURE)
from serving.errors import ServingError, tf_error_message
from serving.saved_models import (load_saved_model, read_signature_defs, recorded_text_feature,
                                  resolve_model_dir)
from serving.wire import (ModelTarget, Prediction, RestRequest, Review, build_grpc_metadata_request,
                          build_grpc_request, build_rest_metadata_request, build_rest_request,
                          build_rest_status_request, normalize_signature_defs,
                          parse_grpc_metadata, parse_grpc_response, parse_rest_metadata,
                          parse_rest_response, parse_signature_outputs, signature_input)

GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SIGNATURES = (RAW_TEXT_SIGNATURE, EXAMPLES_SIGNATURE, CLASSIFY_SIGNATURE)


@dataclasses.dataclass(frozen=True)
class ClientOptions:
    """What every client shares. `retries` counts extra attempts after the first."""

    signature: str = setting(RAW_TEXT_SIGNATURE, "Signature: review strings (serving_raw_text), "
                             "tf.Examples through TF Serving's Predict (serving_default) or "
                             "its Classify (classify).", choices=SIGNATURES)
    text_feature: Optional[str] = setting(None, "Feature the Example signatures read the "
                                          "review from (the pipeline's --text-feature); unset: "
                                          "the one the export records (in process), else "
                                          f"{DEFAULT_TEXT_FEATURE!r} (servers cannot tell).")
    batch_size: int = setting(256, "Reviews per request.")
    timeout: float = setting(30.0, "Seconds per request.")
    retries: int = setting(2, "Extra attempts, with exponential backoff, when the server is "
                           "unavailable (gRPC UNAVAILABLE, HTTP 503, connection refused).")

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


class Client:
    """Batching and the signature choice; subclasses send one batch."""

    def __init__(self, options: ClientOptions):
        self.options = options
        # The raw feature the Example signatures parse; LocalClient reads it from the export.
        self.text_feature = options.text_feature or DEFAULT_TEXT_FEATURE

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
        self.text_feature = options.text_feature or recorded_text_feature(self.model_dir)

    def _predict_batch(self, batch: List[Review]) -> List[Prediction]:
        import tensorflow as tf

        name, values = signature_input(self.signature, batch, self.text_feature)
        try:
            outputs = self._function(**{name: tf.constant(values, tf.string, [len(values)])})
        except Exception as error:  # TF errors, and the UnicodeDecodeError it can raise.
            code, message = tf_error_message(error)
            raise ServingError(f"{self.model_dir} {self.signature}: {code}: {message}", code)
        return parse_signature_outputs(
            self.signature, {alias: tensor.numpy() for alias, tensor in outputs.items()},
            len(batch))

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
                                     self.text_feature)
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
                                             self.text_feature)
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
