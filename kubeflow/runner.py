"""Compiles the same `create_pipeline` for Vertex AI Pipelines or open-source Kubeflow Pipelines.

Both targets get pipeline spec schema 2.1.0 (the only one the KFP 2.x backend accepts; Vertex
takes it too), the same executors and the image's TFX entrypoint. `vertex` writes a PipelineJob
JSON (`displayName`, `pipelineSpec`, `runtimeConfig`), `kfp` the bare `PipelineSpec` the KFP
API uploads. Works offline: nothing is contacted, and `kubeflow/checks.py` refuses local paths.
"""
import json
from typing import Any, Dict

from tfx import v1 as tfx

from kubeflow import parameters, vertex_jobs
from kubeflow.checks import check_compile
from kubeflow.resources import apply_resources
from kubeflow.targets import TARGETS
from kubeflow.options import CompileOptions
from pipeline.config import ConfigError, PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline import nodes

# Not cached: their outputs depend on what the cache key cannot see there: the serving dir, and
# for FileExampleGen the window's older spans, the test files and the span ledger (TFX's
# Kubeflow driver step fingerprints only the newest span; locally our driver sees it all).
UNCACHED_TASKS = (nodes.SERVING_BASELINE, nodes.DRIFT_GATE, nodes.WARM_START_MODEL,
                  nodes.FILE_EXAMPLE_GEN)


def compile_pipeline(config: PipelineConfig, options: CompileOptions) -> Dict[str, Any]:
    """Writes the spec for `options.target` to `options.output` and returns it as a dict."""
    target = options.target
    if target not in TARGETS:
        raise ConfigError(f"--target must be one of {sorted(TARGETS)}, got {target!r}")
    chosen = TARGETS[target]
    gpus, jobs, image = options.gpus, options.jobs, options.image
    gpu_type = options.gpu_type or chosen.default_gpu_type
    check_compile(config, chosen, gpus, gpu_type, jobs)
    if not image:
        raise ConfigError("--image is required (the image built from kubeflow/Dockerfile)")

    pipeline = create_pipeline(config, metadata_connection_config=None)
    apply_resources(pipeline, gpus, gpu_type, launchers=jobs.node_ids())
    vertex_jobs.apply(pipeline, jobs, image, gpus, gpu_type)
    defaults = parameters.attach(pipeline)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image, use_pipeline_spec_2_1=True))
    job = runner.run(pipeline, parameter_values=defaults, write_out=False)

    spec = job["pipelineSpec"]
    parameters.add_defaults(spec, defaults)
    job["runtimeConfig"]["parameterValues"] = defaults  # TFX writes ints as doubles.
    for task in set(UNCACHED_TASKS) & set(spec["root"]["dag"]["tasks"]):
        spec["root"]["dag"]["tasks"][task]["cachingOptions"] = {"enableCache": False}
    if chosen.writes_pipeline_job:
        result = job
    else:
        spec["defaultPipelineRoot"] = config.resolved_pipeline_root
        result = spec
    resolvers = resolver_tasks(spec)
    if resolvers and not chosen.runs_resolvers:  # checks.py should have refused it already.
        raise ConfigError(f"--target {target} cannot run resolver tasks {resolvers}")
    with open(options.output, "w") as out:
        json.dump(result, out, indent=2, sort_keys=True)
    return result


def pipeline_spec(compiled: Dict[str, Any]) -> Dict[str, Any]:
    """The PipelineSpec of either target's output."""
    return compiled.get("pipelineSpec", compiled)


def resolver_tasks(spec: Dict[str, Any]) -> list:
    executors = spec["deploymentSpec"]["executors"]
    return sorted(task for task, body in spec["root"]["dag"]["tasks"].items()
                  if "resolver" in executors[spec["components"][
                      body["componentRef"]["name"]]["executorLabel"]])
