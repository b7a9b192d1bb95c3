"""Refuses, before compiling, a spec that would only fail (or misbehave) on the cluster.

Every problem is collected and raised as one `ConfigError` (exit code 2 in the CLI). Nothing
here reads environment variables or expands `~`: a path is taken exactly as given, so no local
default can slip into the spec.
"""
import re
from typing import List, Sequence

from pipeline.config import ConfigError, PipelineConfig
from kubeflow import vertex_jobs
from kubeflow.targets import Target
from kubeflow.vertex_jobs import VertexJobs

# Schemes TensorFlow's file system layer reads in the image (same pins as the venv); local
# ones ("file", "ram" = in-memory) excluded. s3:// would need tensorflow-io, which is not in it.
LOCAL_SCHEMES = ("", "file", "ram")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
# Vertex job IDs are `^[a-z][-a-z0-9]{0,127}$` and aiplatform builds them as
# `<pipeline name>-<14-digit timestamp>`, so a name may use 128 - 15 characters.
VERTEX_NAME = re.compile(r"[a-z][-a-z0-9]{0,112}")
KFP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")  # TFX's own pipeline name rule.
# Vertex's largest machines have 16 GPUs (a2-megagpu-16g); more is a typo, refused offline.
MAX_GPUS = 16


def remote_schemes() -> List[str]:
    import tensorflow as tf

    return sorted(set(tf.io.gfile.get_registered_schemes()) - set(LOCAL_SCHEMES))


def path_problem(flag: str, path: str, schemes: Sequence[str]) -> str:
    """'' when `path` is a URI the image can read, else why not."""
    if not path:
        return f"{flag} is required for Kubeflow (a {schemes[0]}:// URI)"
    match = _SCHEME.match(path)
    scheme = match.group(1).lower() if match else ""
    if scheme in LOCAL_SCHEMES:
        return (f"{flag} {path!r} is a local path; pods cannot see this machine's disk: "
                f"use a remote URI ({', '.join(s + '://' for s in schemes)})")
    if scheme not in schemes:
        return (f"{flag} {path!r}: TensorFlow in the image cannot read {scheme}:// (it reads "
                f"{', '.join(s + '://' for s in schemes)})")
    return ""


def compile_problems(config: PipelineConfig, target: Target, gpus: int,
                     gpu_type: str, jobs: VertexJobs = VertexJobs()) -> List[str]:
    schemes = remote_schemes()
    paths = [("--pipeline-root (or --output-dir)", config.resolved_pipeline_root),
             ("--serving-dir (or --output-dir)", config.resolved_serving_dir),
             ("--models-config (or --output-dir)", config.resolved_models_config)]
    if config.input_pattern:
        paths += [("--input-pattern", config.input_pattern),
                  ("--test-pattern", config.test_pattern)]
    else:
        paths.append(("--tfds-data-dir", config.tfds_data_dir))
    if config.glove_path.lower() != "none":
        paths.append(("--glove-path (or 'none')", config.glove_path))
    problems = [p for p in (path_problem(flag, path, schemes) for flag, path in paths) if p]

    if gpus < 0:
        problems.append(f"--gpus must be >= 0, got {gpus}")
    elif gpus > MAX_GPUS:
        problems.append(f"--gpus {gpus}: no machine has more than {MAX_GPUS} GPUs")
    if gpus and gpu_type not in target.gpu_types:
        problems.append(f"--gpu-type {gpu_type!r} is not an accelerator type for "
                        f"--target {target.name}; use one of {', '.join(target.gpu_types)}")

    name_rule = VERTEX_NAME if target.name == "vertex" else KFP_NAME
    if not name_rule.fullmatch(config.pipeline_name):
        problems.append(f"--pipeline-name {config.pipeline_name!r} is not valid for "
                        f"--target {target.name}: it must match {name_rule.pattern}")
    problems.extend(dataflow_problems(config.beam_pipeline_args, schemes))
    problems.extend(job_problems(config, target, gpus, gpu_type, jobs))
    if config.training_backup_dir.lower() not in ("", "none"):
        problem = path_problem("--training-backup-dir", config.training_backup_dir, schemes)
        problems.extend([problem] if problem else [])
    return problems


def job_problems(config: PipelineConfig, target: Target, gpus: int, gpu_type: str,
                 jobs: VertexJobs) -> List[str]:
    """--training-workers / --tuning-parallel-trials: Vertex custom jobs only."""
    problems = []
    for flag, value in (("--training-workers", jobs.training_workers),
                        ("--tuning-parallel-trials", jobs.parallel_trials)):
        if value < 1:
            problems.append(f"{flag} must be >= 1, got {value}")
    if not jobs.any:
        return problems
    if target.name != "vertex":
        problems.append("--training-workers and --tuning-parallel-trials need --target vertex: "
                        "on open-source KFP a component is one pod, and this pipeline creates "
                        "no multi-pod job there (a TFJob of the Kubeflow Training Operator "
                        "sets TF_CONFIG, which run_fn honours, but is not generated)")
        return problems
    problems += [f"--training-workers/--tuning-parallel-trials need {flag} (the Trainer or "
                 "Tuner pod submits the Vertex custom job)"
                 for flag, value in (("--project", jobs.project), ("--region", jobs.region))
                 if not value]
    if gpus and not vertex_jobs.machine_type(jobs, gpus, gpu_type):
        problems.append(f"--gpu-type {gpu_type} is not attached to N1 machines: give "
                        "--machine-type (e.g. a2-highgpu-1g for one A100, g2-standard-8 "
                        "for one L4)")
    if jobs.parallel_trials > 1 and config.tuning != "tune":
        # TFX's Vertex Tuner runs the trials: it always searches and hands on no trial.
        problems.append(f"--tuning-parallel-trials {jobs.parallel_trials} needs --tuning tune")
    if jobs.parallel_trials > 1 and config.tuner_algorithm == "hyperband":
        problems.append("--tuning-parallel-trials: Hyperband's brackets run in order; use "
                        "--tuner-algorithm random or bayesian")
    return problems


def dataflow_problems(beam_args: Sequence[str], schemes: Sequence[str]) -> List[str]:
    """Options Dataflow needs for these components: its workers import our code (DoFns in
    components/), so they must run the pipeline image."""
    options = dict(arg[2:].partition("=")[::2] for arg in beam_args if arg.startswith("--"))
    if options.get("runner", "").lower() not in ("dataflowrunner", "dataflow"):
        return []
    problems = [f"--beam-pipeline-args --runner=DataflowRunner needs --{name}=..."
                for name in ("project", "region", "temp_location", "sdk_container_image")
                if not options.get(name)]
    if options.get("temp_location"):
        problem = path_problem("--temp_location", options["temp_location"], schemes)
        problems.extend([problem] if problem else [])
    return problems


def check_compile(config: PipelineConfig, target: Target, gpus: int, gpu_type: str,
                  jobs: VertexJobs = VertexJobs()) -> None:
    problems = compile_problems(config, target, gpus, gpu_type, jobs)
    if problems:
        raise ConfigError(f"cannot compile for --target {target.name}:\n  - "
                          + "\n  - ".join(problems))
