"""`imdb-pipeline submit-kubeflow`: check a compiled spec offline, then hand it to a backend.

The checks are the ones a backend would apply first, so a bad file fails here in a second:
strict parsing against KFP's own protos (unknown fields are errors), the shape each target
expects, and run parameters typed by the spec's root inputs.
"""
import json
import sys
from typing import Any, Dict, List

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow.parameters import parse_assignments
from kubeflow.runner import pipeline_spec, resolver_tasks
from kubeflow.options import SubmitOptions
from pipeline.config import ConfigError

SCHEMA_VERSION = "2.1.0"


def spec_problems(compiled: Dict[str, Any], target: str) -> List[str]:
    """Why `compiled` would be refused by `target`'s backend ([] when it looks acceptable)."""
    is_job = "pipelineSpec" in compiled
    if target == "vertex" and not is_job:
        return ["vertex takes the PipelineJob JSON of compile-kubeflow --target vertex, this "
                "file is a bare PipelineSpec"]
    if target == "kfp" and is_job:
        return ["kfp takes the bare PipelineSpec of compile-kubeflow --target kfp, this file "
                "is a Vertex PipelineJob"]
    problems = []
    messages = [(compiled, pipeline_spec_pb2.PipelineJob())] if is_job else []
    messages.append((pipeline_spec(compiled), pipeline_spec_pb2.PipelineSpec()))
    for document, message in messages:
        try:
            json_format.ParseDict(document, message)  # Unknown fields raise.
        except json_format.ParseError as error:
            problems.append(f"not a valid {type(message).__name__}: {error}")
    if problems:
        return problems
    spec = pipeline_spec(compiled)
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(f"schemaVersion is {spec.get('schemaVersion')!r}; the KFP 2.x backend "
                        f"and this project use {SCHEMA_VERSION}: recompile")
    if target == "kfp" and resolver_tasks(spec):
        problems.append(f"resolver tasks {resolver_tasks(spec)} cannot run on open-source KFP")
    return problems


def load(path: str, target: str) -> Dict[str, Any]:
    try:
        with open(path) as source:
            compiled = json.load(source)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the compiled spec {path}: {error}") from None
    problems = spec_problems(compiled, target)
    if problems:
        raise ConfigError(f"{path} cannot be submitted to {target}:\n  - "
                          + "\n  - ".join(problems))
    return compiled


def main(options: SubmitOptions) -> int:
    """0 when sent (or dry run), 2 for a bad spec or flags, 1 when the backend refused it."""
    compiled = load(options.spec, options.target)
    values = parse_assignments(pipeline_spec(compiled), options.parameter)
    try:
        if options.target == "vertex":
            from kubeflow import vertex

            return vertex.submit(options.spec, compiled, values, options)
        from kubeflow import kfp_api

        return kfp_api.submit(compiled, values, options)
    except ConfigError:
        raise
    except Exception as error:  # Network, auth or API refusal: one line, not a stack trace.
        print(f"imdb-pipeline: submit to {options.target} failed: {type(error).__name__}: "
              f"{error}", file=sys.stderr)
        return 1
