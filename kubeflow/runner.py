"""Compiles the same `create_pipeline` for Kubeflow Pipelines (KFP v2 / Vertex pipeline spec).

The image must hold this package installed with constraints.txt (see kubeflow/Dockerfile), so
every component imports `trainer.*` exactly as the local run does. The Trainer asks for a GPU;
its recurrent layers are cuDNN-eligible (see trainer/models.py).
"""
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
DEFAULT_IMAGE = "gcr.io/YOUR_PROJECT/imdb-rnn-pipeline:latest"


def _resources(cpu: float, memory_gb: float, gpu: int = 0,
               gpu_type: str = "nvidia-tesla-t4") -> ResourceSpec:
    spec = ResourceSpec(cpu_limit=cpu, memory_limit=memory_gb)
    if gpu:
        spec.accelerator.type = gpu_type
        spec.accelerator.count = gpu
    return spec


def compile_pipeline(config: PipelineConfig, output_file: str, image: str = DEFAULT_IMAGE,
                     trainer_gpus: int = 1, gpu_type: str = "nvidia-tesla-t4") -> dict:
    """Writes the pipeline spec JSON to `output_file`; returns it as a dict. Works offline."""
    pipeline = create_pipeline(config, metadata_connection_config=None)
    for component in pipeline.components:
        if component.id == "Trainer":
            component.with_platform_config(_resources(8, 32, trainer_gpus, gpu_type))
        elif component.id in ("Transform", "Evaluator", "StatisticsGen", "TfdsExampleGen"):
            component.with_platform_config(_resources(4, 16))
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_filename=output_file)
    return runner.run(pipeline, write_out=True)
