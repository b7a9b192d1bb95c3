"""Deployment files for TensorFlow Serving, generated from one set of names and paths.

The Pusher writes blessed SavedModels to `<serving-dir>/<version>/`; TF Serving polls that base
path. `write_deployment_files()` writes the server configs (text protos), a `docker run` line, a
Compose file, Kubernetes and KServe manifests and a README into one folder. Every file takes its
model name, ports, mount points and flags from one function (here, in models_config.py or in
server_configs.py), so they cannot drift apart.
No TF Serving binary, Docker engine or cluster was available where this was written: the files
are checked by parsing them (tests/serving/test_deploy.py), not by running them.

  imdb-pipeline serving-config [--serving-dir DIR] [--model-name imdb] [--out DIR]
      [--stable-version V] [--canary-version V] [--enable-batching] [--cpus N]
"""
import dataclasses
import json
import os
import shlex
import stat
from typing import Dict, List, Optional, Sequence

import yaml
from google.protobuf import text_format

from contract import signatures
from contract.names import DEFAULT_MODEL_NAME
from serving.models_config import (HOST_MODELS_CONFIG, MODELS_CONFIG, STABLE_LABEL,
                                   container_base_path, host_base_path, is_remote, local_path,
                                   model_mount_path, model_server_config, validate_model_name)
from serving.server_configs import (BATCHING_CONFIG, CONFIG_MOUNT, GRPC_PORT, MONITORING_CONFIG,
                                    PROMETHEUS_PATH, REST_PORT, batching_parameters,
                                    monitoring_config, server_args)

TF_SERVING_VERSION = "2.15.1"  # Same as the pinned tensorflow / tensorflow-serving-api.
IMAGE = f"tensorflow/serving:{TF_SERVING_VERSION}"
GPU_IMAGE = f"tensorflow/serving:{TF_SERVING_VERSION}-gpu"
CONTAINER_NAME = "tensorflow-serving"


# ---------------------------------------------------------------- Kubernetes names
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


# ---------------------------------------------------------------- Docker
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
