"""What differs between the two backends the spec is compiled for.

Vertex AI Pipelines takes a PipelineJob JSON, runs resolver nodes and reads the accelerator type
as its own enum (it picks the machine). The open-source KFP 2.x backend takes a bare
PipelineSpec, has no resolver executor, and copies the accelerator type verbatim into the pod's
resource limits, so there it must be a Kubernetes extended resource name (`nvidia.com/gpu`);
the GPU model is then chosen by the cluster's node pools, not by the spec.
"""
import dataclasses
from typing import Tuple

# Vertex's AcceleratorType enum values TensorFlow can use (CUDA GPUs); tests check them against
# google.cloud.aiplatform_v1.types.AcceleratorType.
VERTEX_GPU_TYPES = ("NVIDIA_TESLA_T4", "NVIDIA_L4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P100",
                    "NVIDIA_TESLA_P4", "NVIDIA_TESLA_K80", "NVIDIA_TESLA_A100",
                    "NVIDIA_A100_80GB", "NVIDIA_H100_80GB")
KFP_GPU_TYPES = ("nvidia.com/gpu",)


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    gpu_types: Tuple[str, ...]
    runs_resolvers: bool
    writes_pipeline_job: bool  # PipelineJob wrapper (Vertex) or bare PipelineSpec (KFP).

    @property
    def default_gpu_type(self) -> str:
        return self.gpu_types[0]


TARGETS = {
    "vertex": Target("vertex", VERTEX_GPU_TYPES, runs_resolvers=True, writes_pipeline_job=True),
    "kfp": Target("kfp", KFP_GPU_TYPES, runs_resolvers=False, writes_pipeline_job=False),
}
