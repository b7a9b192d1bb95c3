"""Vertex AI custom jobs for the Trainer (worker pools) and the Tuner (parallel trials).

With `--training-workers N` (N > 1) the Trainer task no longer trains in its own pod: it runs
TFX's `tfx.extensions.google_cloud_ai_platform` Trainer executor, which submits a Vertex
CustomJob of N replicas of the pipeline image (pool 0: the chief; pool 1: N-1 workers) and
waits for it. Vertex sets `TF_CONFIG` in every replica, so `run_fn` trains under
MultiWorkerMirroredStrategy (trainer/distribution.py). With `--tuning-parallel-trials N` the
Tuner runs as TFX's Vertex Tuner: N replicas, each a Keras Tuner worker, and a chief oracle
that hands out trials (`tune_args.num_parallel_trials`).

Open-source KFP has no such launcher: there a component is one pod, so the compile refuses
both flags for `--target kfp` (kubeflow/checks.py).
"""
import dataclasses
import json
from typing import Any, Dict, List

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.extensions.google_cloud_ai_platform import constants
from tfx.extensions.google_cloud_ai_platform.trainer import executor as trainer_executor
from tfx.extensions.google_cloud_ai_platform.tuner import executor as tuner_executor

from pipeline import nodes

TRAINING_NODES = (nodes.TRAINER, nodes.TEACHER)
# GPUs that Vertex attaches to N1 machines; other GPU types need their own machine family.
N1_GPU_TYPES = ("NVIDIA_TESLA_T4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100",
                "NVIDIA_TESLA_P4", "NVIDIA_TESLA_K80")
DEFAULT_MACHINE_TYPE = "n1-standard-8"


@dataclasses.dataclass(frozen=True)
class VertexJobs:
    """How the Trainer and the Tuner scale out on Vertex (1 = in the pipeline's own pod)."""
    training_workers: int = 1
    parallel_trials: int = 1
    project: str = ""
    region: str = ""
    machine_type: str = ""

    @property
    def any(self) -> bool:
        return self.training_workers > 1 or self.parallel_trials > 1

    def node_ids(self) -> List[str]:
        """The components that run as Vertex jobs (their pods only submit and wait)."""
        return ([*TRAINING_NODES] if self.training_workers > 1 else []) + (
            [nodes.TUNER] if self.parallel_trials > 1 else [])


def machine_type(jobs: VertexJobs, gpus: int, gpu_type: str) -> str:
    if jobs.machine_type:
        return jobs.machine_type
    return DEFAULT_MACHINE_TYPE if not gpus or gpu_type in N1_GPU_TYPES else ""


def worker_pools(image: str, replicas: int, gpus: int, gpu_type: str,
                 machine: str) -> List[Dict[str, Any]]:
    """Vertex `worker_pool_specs`: pool 0 is the chief, pool 1 the other replicas."""
    spec: Dict[str, Any] = {"machine_type": machine}
    if gpus:
        spec.update(accelerator_type=gpu_type, accelerator_count=gpus)
    pool = {"machine_spec": spec, "replica_count": 1, "container_spec": {"image_uri": image}}
    pools = [pool]
    if replicas > 1:
        pools.append({**pool, "replica_count": replicas - 1})
    return pools


def job_args(jobs: VertexJobs, image: str, replicas: int, gpus: int,
             gpu_type: str) -> Dict[str, Any]:
    return {"project": jobs.project, "job_spec": {"worker_pool_specs": worker_pools(
        image, replicas, gpus, gpu_type, machine_type(jobs, gpus, gpu_type))}}


def _merge_custom_config(component, extra: Dict[str, Any]) -> None:
    config = json.loads(component.exec_properties["custom_config"] or "{}")
    component.exec_properties["custom_config"] = json.dumps({**config, **extra},
                                                            sort_keys=True)


def apply(pipeline, jobs: VertexJobs, image: str, gpus: int, gpu_type: str) -> None:
    """Turns the Trainer(s) and/or the Tuner into Vertex job launchers, in place."""
    platform = {constants.ENABLE_VERTEX_KEY: True, constants.VERTEX_REGION_KEY: jobs.region}
    for component in pipeline.components:
        if component.id in TRAINING_NODES and jobs.training_workers > 1:
            component.executor_spec = executor_spec.ExecutorClassSpec(
                trainer_executor.GenericExecutor)
            _merge_custom_config(component, {**platform, trainer_executor.TRAINING_ARGS_KEY:
                                             job_args(jobs, image, jobs.training_workers, gpus,
                                                      gpu_type)})
        elif component.id == nodes.TUNER and jobs.parallel_trials > 1:
            component.executor_spec = executor_spec.ExecutorClassSpec(tuner_executor.Executor)
            component.exec_properties["tune_args"] = tfx.proto.TuneArgs(
                num_parallel_trials=jobs.parallel_trials)
            _merge_custom_config(component, {**platform, tuner_executor.TUNING_ARGS_KEY:
                                             job_args(jobs, image, jobs.parallel_trials, gpus,
                                                      gpu_type)})
