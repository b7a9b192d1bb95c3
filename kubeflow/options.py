"""What `compile-kubeflow` and `submit-kubeflow` take besides the pipeline's own config: each
setting once, with its default and help (the CLI makes one flag per field: cli/flags.py)."""
import dataclasses
from typing import Tuple

from contract.settings import setting
from kubeflow.targets import TARGETS

_TARGET_HELP = ("vertex: PipelineJob JSON for Vertex AI Pipelines; kfp: bare PipelineSpec "
                "(schema 2.1.0) for the KFP 2.x API.")


@dataclasses.dataclass(frozen=True)
class CompileOptions:
    image: str = setting("", "Image built from kubeflow/Dockerfile, e.g. "
                         "us-docker.pkg.dev/PROJECT/REPO/imdb-rnn-pipeline:TAG.", required=True)
    target: str = setting("vertex", _TARGET_HELP, choices=tuple(TARGETS))
    output: str = setting("imdb_pipeline_kubeflow.json", "Spec file.")
    gpus: int = setting(1, "GPUs for the Tuner and the Trainer each, per worker (0 = CPU; more "
                        "than 1: MirroredStrategy over them).")
    gpu_type: str = setting("", "Accelerator type: a Vertex enum such as NVIDIA_TESLA_T4 "
                            "(vertex, the default) or nvidia.com/gpu (kfp, the default; the GPU "
                            "model comes from the cluster's node pool).")
    training_workers: int = setting(1, "vertex: run the Trainer as a Vertex custom job of N "
                                    "replicas (MultiWorkerMirroredStrategy; each with --gpus); "
                                    "1 = in the Trainer's pod.")
    tuning_parallel_trials: int = setting(1, "vertex, with --tuning tune: run N trials at a "
                                          "time as a Vertex custom job of N Keras Tuner "
                                          "workers; 1 = one after another in the Tuner's pod.")
    project: str = setting("", "vertex, with the two flags above: Google Cloud project the "
                           "custom jobs run in.")
    region: str = setting("", "vertex, with the two flags above: region of the custom jobs, "
                          "e.g. us-central1.")
    machine_type: str = setting("", "vertex custom jobs: machine per replica (default: "
                                "n1-standard-8, which takes T4/V100/P100 GPUs).")

    @property
    def jobs(self):
        """The Vertex custom jobs these options ask for (kubeflow/vertex_jobs.py)."""
        from kubeflow.vertex_jobs import VertexJobs  # Imports TFX: only when compiling.

        return VertexJobs(training_workers=self.training_workers,
                          parallel_trials=self.tuning_parallel_trials, project=self.project,
                          region=self.region, machine_type=self.machine_type)


@dataclasses.dataclass(frozen=True)
class SubmitOptions:
    spec: str = setting("", "File written by compile-kubeflow.", positional=True)
    target: str = setting("vertex", "Must match the target the spec was compiled for.",
                          choices=tuple(TARGETS))
    parameter: Tuple[str, ...] = setting((), "Run parameter NAME=VALUE (repeat; see the "
                                         "compile output for the names).")
    pipeline_root: str = setting("", "Override the compiled pipeline root for this run.")
    dry_run: bool = setting(False, "Validate and print the request; contact nothing.")
    project: str = setting("", "vertex: Google Cloud project.")
    region: str = setting("", "vertex: region, e.g. us-central1.")
    service_account: str = setting("", "vertex: service account the pipeline runs as "
                                   "(default: the Compute Engine default).")
    host: str = setting("", "kfp: API endpoint, e.g. http://localhost:8888 (kubectl "
                        "port-forward svc/ml-pipeline) or https://HOST/pipeline.")
    namespace: str = setting("", "kfp: profile namespace (multi-user installs).")
    experiment_id: str = setting("", "kfp: experiment to run in (default: the server's "
                                 "default experiment).")
    token: str = setting("", "kfp: bearer token, if the endpoint needs one.")
