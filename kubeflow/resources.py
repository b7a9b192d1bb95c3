"""CPU, memory and GPU limits per component, set as TFX platform config (a KFP ResourceSpec).

The Trainer, the Tuner (which trains every trial) and, with distillation, the Teacher get
the GPUs (more than one: MirroredStrategy, trainer/distribution.py); their recurrent layers keep
the settings that select cuDNN (trainer/models.py). 8 vCPU / 30 GB fits an n1-standard-8, the
machine family Vertex attaches T4/V100/P100 GPUs to. Beam components run Beam's DirectRunner in
the pod unless --beam-pipeline-args send them to Dataflow (then the pod only submits the job).
"""
from typing import Dict, Sequence, Tuple

from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.components.base import base_component
from pipeline import nodes

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

GPU_COMPONENTS = (nodes.TUNER, nodes.TRAINER, nodes.TEACHER)
# component id -> (vCPU, memory in GB); anything not listed gets LIGHT.
LIMITS: Dict[str, Tuple[float, float]] = {
    nodes.TRAINER: (8, 30), nodes.TUNER: (8, 30), nodes.TEACHER: (8, 30),
    nodes.EXAMPLE_GEN: (4, 16), nodes.STATISTICS_GEN: (4, 16), nodes.TRANSFORM: (4, 16),
    nodes.EVALUATOR: (4, 16),
}
LIGHT = (1, 4)


def resource_spec(component_id: str, gpus: int, gpu_type: str,
                  launchers: Sequence[str] = ()) -> ResourceSpec:
    """`launchers`: components whose pod only submits a Vertex job and waits
    (kubeflow/vertex_jobs.py); the job's replicas get the machines and GPUs."""
    cpu, memory = LIGHT if component_id in launchers else LIMITS.get(component_id, LIGHT)
    spec = ResourceSpec(cpu_limit=cpu, memory_limit=memory)
    if gpus and component_id in GPU_COMPONENTS and component_id not in launchers:
        spec.accelerator.type = gpu_type
        spec.accelerator.count = gpus
    return spec


def apply_resources(pipeline, gpus: int, gpu_type: str, launchers: Sequence[str] = ()) -> None:
    """Sets a ResourceSpec on every component (resolver nodes run no container)."""
    for component in pipeline.components:
        if isinstance(component, base_component.BaseComponent):
            component.with_platform_config(resource_spec(component.id, gpus, gpu_type,
                                                         launchers))
