"""Submits a compiled PipelineSpec to an open-source Kubeflow Pipelines 2.x API (REST v2beta1).

One pipeline per pipeline name, one new version per submission (so the UI keeps every spec
that ran), then a run of that version:

  GET  /apis/v2beta1/pipelines/names/{name}                  does the pipeline exist?
  POST /apis/v2beta1/pipelines/upload?name=...               no: create it (multipart
       then GET /apis/v2beta1/pipelines/{id}/versions        `uploadfile`), take its version
  POST /apis/v2beta1/pipelines/upload_version?pipelineid=... yes: add a version
  POST /apis/v2beta1/runs                                    run that version

The same steps with the kfp 2 SDK: `kfp.Client(host).upload_pipeline(...)` /
`upload_pipeline_version(...)`, then `run_pipeline(...)` (docs/kubeflow.md).
"""
import datetime
import json
from typing import Any, Dict, List, Optional, Tuple

from kubeflow.options import SubmitOptions
from pipeline.config import ConfigError
from contract.errors import UserError

API = "/apis/v2beta1"


class KfpError(UserError, RuntimeError):
    """The KFP API refused a request."""


class KfpApi:
    def __init__(self, host: str, token: str = "", namespace: str = "", timeout: float = 60):
        import requests

        self._host = host.rstrip("/")
        self._namespace = namespace
        self._timeout = timeout
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, ok=(200,), **kwargs) -> Tuple[int, Dict[str, Any]]:
        response = self._session.request(method, self._host + API + path,
                                         timeout=self._timeout, **kwargs)
        if response.status_code not in ok:
            raise KfpError(f"{method} {path}: HTTP {response.status_code}: "
                           f"{response.text[:500]}")
        return response.status_code, (response.json() if response.content else {})

    def _params(self, **params) -> Dict[str, str]:
        if self._namespace:
            params["namespace"] = self._namespace
        return params

    def find_pipeline(self, name: str) -> Optional[str]:
        status, body = self._call("GET", f"/pipelines/names/{name}", ok=(200, 404),
                                  params=self._params())
        return body.get("pipeline_id") if status == 200 else None

    def upload(self, name: str, spec: bytes) -> Tuple[str, str]:
        """Creates the pipeline; returns (pipeline id, id of the version the upload made)."""
        _, pipeline = self._call("POST", "/pipelines/upload", params=self._params(name=name),
                                 files={"uploadfile": (f"{name}.yaml", spec)})
        pipeline_id = pipeline["pipeline_id"]
        _, listing = self._call("GET", f"/pipelines/{pipeline_id}/versions",
                                params={"page_size": "1", "sort_by": "created_at desc"})
        return pipeline_id, listing["pipeline_versions"][0]["pipeline_version_id"]

    def upload_version(self, pipeline_id: str, version_name: str, spec: bytes) -> str:
        _, version = self._call("POST", "/pipelines/upload_version",
                                params={"pipelineid": pipeline_id, "name": version_name},
                                files={"uploadfile": (f"{version_name}.yaml", spec)})
        return version["pipeline_version_id"]

    def create_run(self, body: Dict[str, Any]) -> Dict[str, Any]:
        return self._call("POST", "/runs", json=body)[1]


def run_body(display_name: str, pipeline_id: str, version_id: str, values: Dict[str, Any],
             pipeline_root: str = "", experiment_id: str = "") -> Dict[str, Any]:
    runtime_config: Dict[str, Any] = {"parameters": values}
    if pipeline_root:
        runtime_config["pipeline_root"] = pipeline_root
    body = {"display_name": display_name, "runtime_config": runtime_config,
            "pipeline_version_reference": {"pipeline_id": pipeline_id,
                                           "pipeline_version_id": version_id}}
    if experiment_id:
        body["experiment_id"] = experiment_id
    return body


def plan(name: str, stamp: str, body: Dict[str, Any]) -> List[str]:
    """What `submit` would send, for --dry-run."""
    return [f"GET  {API}/pipelines/names/{name}",
            f"then POST {API}/pipelines/upload?name={name} (new pipeline) or POST "
            f"{API}/pipelines/upload_version?pipelineid=<id>&name={name}-{stamp}",
            f"POST {API}/runs " + json.dumps(body, indent=2, sort_keys=True)]


def submit(spec: Dict[str, Any], values: Dict[str, Any], options: SubmitOptions,
           now: Optional[datetime.datetime] = None) -> int:
    if not options.host:
        raise ConfigError("--target kfp needs --host (the KFP API endpoint)")
    name = spec["pipelineInfo"]["name"]
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%d-%H%M%S")
    display_name = f"{name} {stamp}"
    if options.dry_run:
        body = run_body(display_name, "<pipeline id>", "<version id>", values,
                        options.pipeline_root, options.experiment_id)
        print(f"dry run: would send to {options.host}:")
        print("\n".join(plan(name, stamp, body)))
        return 0
    api = KfpApi(options.host, token=options.token, namespace=options.namespace)
    data = json.dumps(spec, sort_keys=True).encode()
    pipeline_id = api.find_pipeline(name)
    if pipeline_id is None:
        pipeline_id, version_id = api.upload(name, data)
    else:
        version_id = api.upload_version(pipeline_id, f"{name}-{stamp}", data)
    run = api.create_run(run_body(display_name, pipeline_id, version_id, values,
                                  options.pipeline_root, options.experiment_id))
    print(f"submitted run {run.get('run_id')} of pipeline {pipeline_id} version {version_id}")
    return 0
