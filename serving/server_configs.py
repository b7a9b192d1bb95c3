"""TF Serving's own config files besides models.config, and its command line.

The monitoring and batching files are written with the messages TF Serving parses them with;
`server_args` is the one flag list docker run, Compose, Kubernetes and a host install share.
"""
import os
from typing import Dict, List, Optional, Tuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import wrappers_pb2

from serving.models_config import MODELS_CONFIG

GRPC_PORT = 8500
REST_PORT = 8501
CONFIG_MOUNT = "/config"            # In-container folder holding the three config files.
BATCHING_CONFIG = "batching_parameters.txt"
MONITORING_CONFIG = "monitoring.config"
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
CONFIG_POLL_SECONDS = 60


# ---------------------------------------------------------------- protos TF Serving's wheel lacks
# The `tensorflow-serving-api` 2.15.1 wheel ships model_server_config_pb2 but not
# monitoring_config_pb2 or session_bundle_config_pb2. These are the messages TF Serving parses
# our monitoring and batching files with, transcribed field for field (names, numbers, types) from
# tensorflow_serving/config/monitoring_config.proto and
# tensorflow_serving/servables/tensorflow/session_bundle_config.proto at tag 2.15.1, and built in
# a private descriptor pool so a future wheel that does ship them cannot clash.
_I64 = ".google.protobuf.Int64Value"
_SERVING_MESSAGES: Dict[str, List[Tuple[str, int, str]]] = {
    "PrometheusConfig": [("enable", 1, "bool"), ("path", 2, "string")],
    "MonitoringConfig": [("prometheus_config", 1, ".tensorflow.serving.PrometheusConfig")],
    "BatchingParameters": [
        ("max_batch_size", 1, _I64), ("batch_timeout_micros", 2, _I64),
        ("max_enqueued_batches", 3, _I64), ("num_batch_threads", 4, _I64),
        ("thread_pool_name", 5, ".google.protobuf.StringValue"),
        ("enable_large_batch_splitting", 8, ".google.protobuf.BoolValue"),
        ("max_execution_batch_size", 9, _I64),
        ("allowed_batch_sizes", 6, "repeated int64"), ("pad_variable_length_inputs", 7, "bool")],
}


def _serving_message_classes() -> Dict[str, type]:
    """Message classes for `_SERVING_MESSAGES` (see above for why they are not imported)."""
    field = descriptor_pb2.FieldDescriptorProto
    scalars = {"bool": field.TYPE_BOOL, "string": field.TYPE_STRING, "int64": field.TYPE_INT64}
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    file = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/deploy_transcribed.proto", package="tensorflow.serving",
        syntax="proto3", dependency=[wrappers.name])
    for message_name, fields in _SERVING_MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind in fields:
            repeated = kind.startswith("repeated ")
            kind = kind.split()[-1]
            spec = message.field.add(name=name, number=number, json_name=_camel(name),
                                     label=field.LABEL_REPEATED if repeated
                                     else field.LABEL_OPTIONAL)
            if kind in scalars:
                spec.type = scalars[kind]
            else:
                spec.type, spec.type_name = field.TYPE_MESSAGE, kind
    pool.Add(file)
    factory = message_factory.MessageFactory(pool)
    return {name: factory.GetPrototype(pool.FindMessageTypeByName(f"tensorflow.serving.{name}"))
            for name in _SERVING_MESSAGES}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CLASSES = _serving_message_classes()
MonitoringConfig = _CLASSES["MonitoringConfig"]
BatchingParameters = _CLASSES["BatchingParameters"]


def batching_parameters(num_batch_threads: Optional[int] = None):
    """CPU starting values from TF Serving's batching guide (batching/README.md, "CPU-only").

    Threads = cores; timeout 5 ms (the guide's 1-10 ms range); queue bound = threads, as the guide
    advises for online serving. No padding: the inputs are whole strings. NOT measured: no TF
    Serving could run where this was written, so batching stays off unless asked for.
    """
    threads = num_batch_threads or os.cpu_count() or 1
    params = BatchingParameters()
    params.num_batch_threads.value = threads
    params.max_batch_size.value = 256
    params.batch_timeout_micros.value = 5000
    params.max_enqueued_batches.value = threads
    return params


def monitoring_config():
    """Prometheus metrics on the REST port, at PROMETHEUS_PATH."""
    config = MonitoringConfig()
    config.prometheus_config.enable = True
    config.prometheus_config.path = PROMETHEUS_PATH
    return config


# ---------------------------------------------------------------- the server's command line
def server_args(enable_batching: bool = False, has_labels: bool = False,
                config_dir: str = CONFIG_MOUNT, models_config: str = MODELS_CONFIG) -> List[str]:
    """Flags for the image's entrypoint; the same list in docker run, Compose and Kubernetes
    (and, with the host's config dir and models.host.config, for a server on the host)."""
    args = [f"--model_config_file={config_dir}/{models_config}",
            f"--model_config_file_poll_wait_seconds={CONFIG_POLL_SECONDS}",
            f"--monitoring_config_file={config_dir}/{MONITORING_CONFIG}",
            f"--rest_api_port={REST_PORT}", f"--port={GRPC_PORT}"]
    if has_labels:
        # ServerCore::ReloadConfig assigns labels (UpdateModelVersionLabelMap) *before* it loads
        # the models, so at startup every labelled version is still unavailable and the server
        # refuses to start without this flag. It still refuses to move an existing label to a
        # version that is not loaded yet (server_core.cc, 2.15.1).
        args.append("--allow_version_labels_for_unavailable_models")
    if enable_batching:
        args += ["--enable_batching", f"--batching_parameters_file={config_dir}/{BATCHING_CONFIG}"]
    return args
