"""Submits a compiled PipelineJob to Vertex AI Pipelines with `google.cloud.aiplatform`.

The dry run builds the same runtime config aiplatform would (its `PipelineRuntimeConfigBuilder`,
which needs no network or credentials) and prints the request; the real run lets
`aiplatform.PipelineJob` send it (credentials from Application Default Credentials).
"""
import json
from typing import Any, Dict

from kubeflow.options import SubmitOptions
from pipeline.config import ConfigError


def api_url(project: str, region: str) -> str:
    return (f"https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/"
            f"{region}/pipelineJobs")


def request_body(compiled: Dict[str, Any], values: Dict[str, Any], pipeline_root: str = "",
                 service_account: str = "") -> Dict[str, Any]:
    """The PipelineJob as Vertex would receive it (pipelineSpec as compiled)."""
    from google.cloud.aiplatform.utils.pipeline_utils import PipelineRuntimeConfigBuilder

    builder = PipelineRuntimeConfigBuilder.from_job_spec_json(compiled)
    builder.update_pipeline_root(pipeline_root or None)
    builder.update_runtime_parameters(values)
    body = {"displayName": compiled["displayName"], "pipelineSpec": compiled["pipelineSpec"],
            "runtimeConfig": builder.build(), "labels": compiled.get("labels", {})}
    if service_account:
        body["serviceAccount"] = service_account
    return body


def submit(spec_path: str, compiled: Dict[str, Any], values: Dict[str, Any],
           options: SubmitOptions) -> int:
    missing = [flag for flag, value in (("--project", options.project),
                                        ("--region", options.region)) if not value]
    if missing:
        raise ConfigError(f"--target vertex needs {' and '.join(missing)}")
    try:
        body = request_body(compiled, values, options.pipeline_root, options.service_account)
    except ValueError as error:  # Unknown parameter or no pipeline root.
        raise ConfigError(f"vertex runtime config: {error}") from None
    if options.dry_run:
        shown = {**body, "pipelineSpec": f"<{len(body['pipelineSpec']['root']['dag']['tasks'])}"
                                         f" tasks from {spec_path}>"}
        print(f"dry run: would POST {api_url(options.project, options.region)}")
        print(json.dumps(shown, indent=2, sort_keys=True))
        return 0
    from google.cloud import aiplatform

    job = aiplatform.PipelineJob(
        display_name=compiled["displayName"], template_path=spec_path,
        pipeline_root=options.pipeline_root or None, parameter_values=values,
        project=options.project, location=options.region)
    job.submit(service_account=options.service_account or None)
    print(f"submitted {job.resource_name}")
    return 0
