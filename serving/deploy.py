"""Deployment files for TensorFlow Serving, generated from one set of names and paths.

The Pusher writes blessed SavedModels to `<serving-dir>/<version>/`; TF Serving polls that base
path. `write_deployment_files()` writes the server configs (text protos), a `docker run` line, a
Compose file, Kubernetes and KServe manifests and a README into one folder. Every file takes its
model name, ports, mount points and flags from the functions below, so they cannot drift apart.
No TF Serving binary, Docker engine or cluster was available where this was written: the files
are checked by parsing them (tests/serving/test_deploy.py), not by running them.

  imdb-pipeline serving-config [--serving-dir DIR] [--model-name imdb] [--out DIR]
      [--stable-version V] [--canary-version V] [--enable-batching] [--cpus N]
"""
import dataclasses
import json
import os
import re
import shlex
import stat
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from google.protobuf import wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from contract import signatures
from contract.names import DEFAULT_MODEL_NAME, model_name_problem

TF_SERVING_VERSION = "2.15.1"  # Same as the pinned tensorflow / tensorflow-serving-api.
IMAGE = f"tensorflow/serving:{TF_SERVING_VERSION}"
GPU_IMAGE = f"tensorflow/serving:{TF_SERVING_VERSION}-gpu"
GRPC_PORT = 8500
REST_PORT = 8501
CONFIG_MOUNT = "/config"            # In-container folder holding the three config files.
MODELS_MOUNT_ROOT = "/models"       # The image's MODEL_BASE_PATH; the model goes below it.
MODELS_CONFIG = "models.config"
HOST_MODELS_CONFIG = "models.host.config"
BATCHING_CONFIG = "batching_parameters.txt"
MONITORING_CONFIG = "monitoring.config"
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
CONFIG_POLL_SECONDS = 60
STABLE_LABEL = "stable"
CANARY_LABEL = "canary"
CONTAINER_NAME = "tensorflow-serving"

_URI_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


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


# ---------------------------------------------------------------- names and paths
def validate_model_name(model_name: str) -> str:
    """The model name is also a Kubernetes/KServe object name and a URL segment: one rule."""
    problem = model_name_problem(model_name)
    if problem:
        raise ValueError(problem)
    return model_name


def is_remote(path: str) -> bool:
    """gs://, s3://, hdfs://... paths: TF Serving reads them itself, so nothing is mounted."""
    match = _URI_SCHEME.match(path)
    return bool(match) and match.group(1).lower() != "file"


def local_path(path: str) -> str:
    """Absolute host path of a local serving dir (a file:// URI is accepted too)."""
    return os.path.abspath(os.path.expanduser(re.sub(r"^file://", "", path)))


def model_mount_path(model_name: str) -> str:
    """Where a local serving dir is mounted in every container: the image's /models/<name>."""
    return f"{MODELS_MOUNT_ROOT}/{model_name}"


def container_base_path(serving_dir: str, model_name: str) -> str:
    """models.config's base_path inside a container: the remote URI, or the mount point."""
    return serving_dir if is_remote(serving_dir) else model_mount_path(model_name)


def host_base_path(serving_dir: str) -> str:
    """models.host.config's base_path, for tensorflow_model_server run directly on the host."""
    return serving_dir if is_remote(serving_dir) else local_path(serving_dir)


def k8s_name(model_name: str) -> str:
    """Name of the Deployment, Service, HPA (and the prefix of the ConfigMap)."""
    return f"{model_name}-serving"


def default_claim_name(model_name: str) -> str:
    """PersistentVolumeClaim holding a local serving dir when it is not on remote storage."""
    return f"{model_name}-models"


def pod_labels(model_name: str, variant: str) -> Dict[str, str]:
    """Pod labels; the Service selects all but `variant`, so it routes to CPU and GPU pods."""
    return {**service_selector(model_name), "variant": variant}


def service_selector(model_name: str) -> Dict[str, str]:
    return {"app.kubernetes.io/name": "tensorflow-serving",
            "app.kubernetes.io/instance": k8s_name(model_name)}


# ---------------------------------------------------------------- server configs (text protos)
def model_server_config(model_name: str, base_path: str, *, num_versions: int = 1,
                        stable_version: Optional[int] = None,
                        canary_version: Optional[int] = None
                        ) -> model_server_config_pb2.ModelServerConfig:
    """One model; `latest N` versions, or exactly the labelled ones when labels are given.

    With labels the policy must be `specific`: a label may only point at a version the server
    keeps loaded, and `latest` would drop the stable version as soon as a newer one is pushed.
    """
    validate_model_name(model_name)
    labels = {label: version for label, version in ((STABLE_LABEL, stable_version),
                                                    (CANARY_LABEL, canary_version))
              if version is not None}
    if any(int(v) < 1 for v in labels.values()):
        raise ValueError(f"model versions must be positive integers, got {labels}")
    if len(set(labels.values())) < len(labels):
        raise ValueError(f"the canary version must differ from the stable one, got {labels}")
    if num_versions < 1:
        raise ValueError(f"num_versions must be >= 1, got {num_versions}")
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(name=model_name, base_path=base_path,
                                                model_platform="tensorflow")
    if labels:
        model.model_version_policy.specific.versions.extend(sorted(labels.values()))
        for label, version in labels.items():
            model.version_labels[label] = int(version)
    else:
        model.model_version_policy.latest.num_versions = num_versions
    return config


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


def read_version_labels(models_config_path: str, model_name: str) -> Dict[str, int]:
    """Version labels of `model_name` in a models.config, e.g. {"stable": 3, "canary": 4}.

    For retention (`--keep-versions`): the version `stable` points at must never be deleted.
    Parsed strictly with TF Serving's own proto, so a file the server would reject fails here too.
    """
    if is_remote(models_config_path):  # gs://...: TF's file systems (TF is loaded there anyway).
        import tensorflow as tf

        with tf.io.gfile.GFile(models_config_path) as f:
            text = f.read()
    else:
        with open(models_config_path) as f:
            text = f.read()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    for model in config.model_config_list.config:
        if model.name == model_name:
            return dict(model.version_labels)
    raise ValueError(f"{models_config_path} has no model named {model_name!r}")


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


@dataclasses.dataclass(frozen=True)
class Mount:
    source: str  # Host path.
    target: str  # Path in the container.


def docker_mounts(serving_dir: str, config_dir: str, model_name: str) -> List[Mount]:
    """Read-only bind mounts: configs at /config; a local serving dir at /models/<name>."""
    mounts = [Mount(local_path(config_dir), CONFIG_MOUNT)]
    if not is_remote(serving_dir):
        mounts.append(Mount(local_path(serving_dir), model_mount_path(model_name)))
    return mounts


def docker_run_command(serving_dir: str, config_dir: str, model_name: str,
                       args: Sequence[str]) -> List[str]:
    command = ["docker", "run", "--rm", "--name", k8s_name(model_name),
               "-p", f"{GRPC_PORT}:{GRPC_PORT}", "-p", f"{REST_PORT}:{REST_PORT}",
               "-e", f"MODEL_NAME={model_name}"]
    for mount in docker_mounts(serving_dir, config_dir, model_name):
        command += ["--mount", f"type=bind,source={mount.source},target={mount.target},readonly"]
    return command + [IMAGE, *args]


def compose_spec(serving_dir: str, config_dir: str, model_name: str,
                 args: Sequence[str]) -> dict:
    """One machine: the same image, ports, mounts and flags as docker-run.sh."""
    # The CPU image has no curl or wget (only ca-certificates), but its entrypoint is bash:
    # ask the REST API through /dev/tcp and require the model to be AVAILABLE.
    probe = (f"exec 3<>/dev/tcp/localhost/{REST_PORT} && printf 'GET {status_path(model_name)} "
             "HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q AVAILABLE <&3")
    return {"services": {model_name: {
        "image": IMAGE,
        "ports": [f"{GRPC_PORT}:{GRPC_PORT}", f"{REST_PORT}:{REST_PORT}"],
        "environment": {"MODEL_NAME": model_name},
        "volumes": [{"type": "bind", "source": m.source, "target": m.target, "read_only": True}
                    for m in docker_mounts(serving_dir, config_dir, model_name)],
        "command": list(args),
        "healthcheck": {"test": ["CMD", "bash", "-c", probe], "interval": "15s",
                        "timeout": "5s", "retries": 3, "start_period": "30s"},
        "restart": "unless-stopped"}}}


def status_path(model_name: str) -> str:
    """TF Serving's REST model-status URL path; health checks and probes use it."""
    return f"/v1/models/{model_name}"


# ---------------------------------------------------------------- Kubernetes and KServe
def configmap_name(model_name: str) -> str:
    return f"{k8s_name(model_name)}-config"


def k8s_configmap(model_name: str, files: Dict[str, str]) -> dict:
    """The three server configs, mounted at /config; TF Serving re-reads models.config every
    CONFIG_POLL_SECONDS, so an edited ConfigMap moves labels without a restart."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": configmap_name(model_name),
                         "labels": service_selector(model_name)},
            "data": dict(files)}


def k8s_deployment(serving_dir: str, model_name: str, args: Sequence[str], *, cpus: int,
                   claim_name: str, gpu: bool = False) -> dict:
    """CPU Deployment (scaled by the HPA), or the GPU variant, created with 0 replicas."""
    probe = {"httpGet": {"path": status_path(model_name), "port": REST_PORT}}
    resources = {"requests": {"cpu": str(cpus), "memory": "1Gi"},
                 "limits": {"cpu": str(cpus), "memory": "2Gi"}}
    if gpu:
        resources["limits"]["nvidia.com/gpu"] = 1
    mounts = [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}]
    volumes = [{"name": "config", "configMap": {"name": configmap_name(model_name)}}]
    if not is_remote(serving_dir):
        mounts.append({"name": "models", "mountPath": model_mount_path(model_name),
                       "readOnly": True})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": claim_name,
                                                                    "readOnly": True}})
    container = {
        "name": CONTAINER_NAME, "image": GPU_IMAGE if gpu else IMAGE, "args": list(args),
        "env": [{"name": "MODEL_NAME", "value": model_name}],
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT},
                  {"name": "http", "containerPort": REST_PORT}],
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 10},
        "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 20,
                          "failureThreshold": 5},
        "resources": resources, "volumeMounts": mounts}
    variant = "gpu" if gpu else "cpu"
    labels = pod_labels(model_name, variant)
    spec = {"selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [container], "volumes": volumes}}}
    if gpu:
        spec = {"replicas": 0, **spec}  # No `replicas` on the CPU one: the HPA owns it.
    name = k8s_name(model_name) + ("-gpu" if gpu else "")
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels}, "spec": spec}


def k8s_service(model_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": k8s_name(model_name), "labels": service_selector(model_name)},
            "spec": {"selector": service_selector(model_name),
                     "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc"},
                               {"name": "http", "port": REST_PORT, "targetPort": "http"}]}}


def k8s_hpa(model_name: str, deployment: dict, min_replicas: int = 1, max_replicas: int = 4,
            cpu_utilization: int = 70) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": k8s_name(model_name)},
            "spec": {"scaleTargetRef": {"apiVersion": deployment["apiVersion"],
                                        "kind": deployment["kind"],
                                        "name": deployment["metadata"]["name"]},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": cpu_utilization}}}]}}


def kserve_storage_uri(serving_dir: str, claim_name: str) -> str:
    """The serving dir itself if remote; else the root of the PVC the Deployment mounts."""
    return serving_dir if is_remote(serving_dir) else f"pvc://{claim_name}/"


def kserve_inference_service(serving_dir: str, model_name: str, *, cpus: int,
                             claim_name: str) -> dict:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": model_name},
            "spec": {"predictor": {"model": {
                "modelFormat": {"name": "tensorflow"}, "runtimeVersion": TF_SERVING_VERSION,
                "storageUri": kserve_storage_uri(serving_dir, claim_name),
                "resources": {"requests": {"cpu": str(cpus), "memory": "1Gi"},
                              "limits": {"cpu": str(cpus), "memory": "2Gi"}}}}}}


# ---------------------------------------------------------------- writing it all
@dataclasses.dataclass(frozen=True)
class DeploymentFiles:
    out_dir: str
    paths: List[str]           # Every file written, absolute.
    docker_command: List[str]  # The `docker run` line of docker-run.sh, as argv.


def _yaml(header: str, *documents: dict) -> str:
    """YAML with a comment header. The JSON round trip unshares repeated dicts (pod labels,
    probes), which PyYAML would otherwise write as &id001 anchors and aliases."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.strip().splitlines())
    plain = json.loads(json.dumps(documents))
    return comment + yaml.safe_dump_all(plain, sort_keys=False, default_flow_style=False)


def _shell_lines(argv: Sequence[str], image: str) -> str:
    """argv as a shell command, one option (with its value) or the image per line."""
    lines: List[List[str]] = [[]]
    for arg in argv:
        if arg.startswith("-") or arg == image:
            lines.append([])
        lines[-1].append(shlex.quote(arg))
    return " \\\n  ".join(" ".join(line) for line in lines if line)


def _predict_body(text: str = "What a wonderful film!") -> str:
    return json.dumps({"signature_name": signatures.RAW_TEXT_SIGNATURE,
                       "instances": [{signatures.RAW_TEXT_INPUT: text}]})


def write_deployment_files(out_dir: str, serving_dir: str,
                           model_name: str = DEFAULT_MODEL_NAME, *,
                           stable_version: Optional[int] = None,
                           canary_version: Optional[int] = None, num_versions: int = 1,
                           enable_batching: bool = False, cpus: Optional[int] = None,
                           claim_name: Optional[str] = None) -> DeploymentFiles:
    """Writes every deployment file for `serving_dir` (the Pusher's) into `out_dir`.

    Batching is configured (batching_parameters.txt) but only switched on with
    `enable_batching=True`: its benefit was not measured, as no TF Serving could run here.
    """
    validate_model_name(model_name)
    if cpus is not None and cpus < 1:
        raise ValueError(f"cpus must be >= 1, got {cpus}")
    cpus = cpus or os.cpu_count() or 1
    claim_name = claim_name or default_claim_name(model_name)
    has_labels = stable_version is not None or canary_version is not None
    policy = dict(num_versions=num_versions, stable_version=stable_version,
                  canary_version=canary_version)
    base_path = container_base_path(serving_dir, model_name)
    args = server_args(enable_batching, has_labels)
    configs = {
        MODELS_CONFIG: text_format.MessageToString(
            model_server_config(model_name, base_path, **policy)),
        MONITORING_CONFIG: text_format.MessageToString(monitoring_config()),
        BATCHING_CONFIG: (
            "# Starting values from TF Serving's batching guide for CPUs; NOT measured (no TF\n"
            "# Serving could run where they were generated). Used only with --enable_batching"
            f"\n# (currently {'ON' if enable_batching else 'OFF'}).\n"
            + text_format.MessageToString(batching_parameters(cpus))),
    }
    out_dir = local_path(out_dir)
    docker = docker_run_command(serving_dir, out_dir, model_name, args)
    deployment = k8s_deployment(serving_dir, model_name, args, cpus=cpus, claim_name=claim_name)
    gpu_deployment = k8s_deployment(serving_dir, model_name, args, cpus=cpus,
                                    claim_name=claim_name, gpu=True)
    model_source = (
        f"The model is read by TF Serving directly from {serving_dir} (give the pod credentials\n"
        "for it, e.g. GKE Workload Identity); nothing is mounted." if is_remote(serving_dir) else
        f"The serving dir is not on remote storage, so the model comes from the\n"
        f"PersistentVolumeClaim {claim_name!r} mounted read-only at {base_path}: the Pusher must\n"
        "write <version>/ folders to the root of that volume. More than one replica across\n"
        "nodes (the HPA) needs a ReadOnlyMany/ReadWriteMany volume (e.g. NFS, Filestore).")
    files = {
        **configs,
        HOST_MODELS_CONFIG: text_format.MessageToString(
            model_server_config(model_name, host_base_path(serving_dir), **policy)),
        "docker-run.sh": ("#!/bin/sh\n# TF Serving for one machine; files in "
                          f"{out_dir}. Stop with: docker stop {k8s_name(model_name)}\n"
                          "exec " + _shell_lines(docker, IMAGE) + "\n"),
        "docker-compose.yaml": _yaml("docker compose up -d   (the same server as docker-run.sh)",
                                     compose_spec(serving_dir, out_dir, model_name, args)),
        "k8s/configmap.yaml": _yaml("Server configs, mounted at /config by the Deployments.",
                                    k8s_configmap(model_name, configs)),
        "k8s/deployment.yaml": _yaml("TF Serving on CPU; the HPA sets its replicas.\n"
                                     + model_source, deployment),
        "k8s/deployment-gpu.yaml": _yaml(
            "The GPU variant, created with 0 replicas so `kubectl apply -f k8s/` works on\n"
            f"clusters without GPUs. Use it: kubectl scale deployment/{k8s_name(model_name)}-gpu"
            " --replicas=1\nThe Service routes to CPU and GPU pods alike.\n" + model_source,
            gpu_deployment),
        "k8s/service.yaml": _yaml("gRPC 8500 and REST 8501 for the CPU and GPU pods.",
                                  k8s_service(model_name)),
        "k8s/hpa.yaml": _yaml("Scales the CPU Deployment on CPU utilization.",
                              k8s_hpa(model_name, deployment)),
        "kserve/inferenceservice.yaml": _yaml(
            "KServe alternative to k8s/ (its own TF Serving runtime; version labels and the\n"
            "batching file above are not used there).",
            kserve_inference_service(serving_dir, model_name, cpus=cpus, claim_name=claim_name)),
    }
    host_command = ["tensorflow_model_server", *server_args(
        enable_batching, has_labels, config_dir=out_dir, models_config=HOST_MODELS_CONFIG)]
    files["README.txt"] = _readme(model_name, serving_dir, sorted(files), docker, host_command,
                                  has_labels)
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    script = os.path.join(out_dir, "docker-run.sh")
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return DeploymentFiles(out_dir, paths, docker)


def _readme(model_name: str, serving_dir: str, names: Sequence[str], docker: Sequence[str],
            host_command: Sequence[str], has_labels: bool) -> str:
    url = f"http://localhost:{REST_PORT}{status_path(model_name)}"
    body = shlex.quote(_predict_body())
    lines = [
        f"TensorFlow Serving {TF_SERVING_VERSION} deployment for model {model_name!r}",
        f"serving dir (the Pusher's): {serving_dir}",
        "Generated by `imdb-pipeline serving-config`; regenerate rather than edit.",
        "", "Files:", *(f"  {name}" for name in names), "",
        "One machine (Docker):",
        "  sh docker-run.sh",
        "  # which runs: " + " ".join(shlex.quote(a) for a in docker),
        "  docker compose -f docker-compose.yaml up -d",
        "", "Directly on the host (a tensorflow_model_server binary):",
        "  " + " ".join(shlex.quote(a) for a in host_command),
        "", "Kubernetes:",
        "  kubectl apply -f k8s/",
        f"  kubectl port-forward service/{k8s_name(model_name)} {REST_PORT}:{REST_PORT}",
        "  # or KServe instead: kubectl apply -f kserve/inferenceservice.yaml",
        "", "Check and query:",
        f"  curl {url}",
        f"  curl -X POST {url}:predict -d {body}",
        f"  curl http://localhost:{REST_PORT}{PROMETHEUS_PATH}",
    ]
    if has_labels:
        lines += [f"  curl -X POST {url}/labels/{STABLE_LABEL}:predict -d {body}"]
    lines += ["", f"Signatures: {signatures.RAW_TEXT_SIGNATURE} ({signatures.RAW_TEXT_INPUT} = "
              f"review strings -> {signatures.RAW_TEXT_OUTPUT}), {signatures.EXAMPLES_SIGNATURE} "
              f"({signatures.EXAMPLES_INPUT} = serialized tf.Example -> "
              f"{signatures.EXAMPLES_OUTPUT}).",
              "Batching is off unless generated with --enable-batching (not measured here)."]
    return "\n".join(lines) + "\n"
