"""Stand-in for the Vertex AI CustomJob service: runs a job's replicas as local processes.

TFX's Vertex Trainer and Tuner executors (tfx.extensions.google_cloud_ai_platform) build a
CustomJob whose every worker pool runs `python -m tfx.scripts.run_executor ...` and hand it to
a job client. `LocalJobClient` takes the place of `VertexJobClient` there: it starts one
process per replica on 127.0.0.1 with the environment Vertex documents for custom training
(`CLUSTER_SPEC` with pools `workerpool0`, `workerpool1`; `TF_CONFIG` with `chief` and `worker`;
https://cloud.google.com/vertex-ai/docs/training/distributed-training), waits for all of them
and reports the job SUCCEEDED or FAILED as the real service would. Everything before that,
the executors, the job spec and the replicas' command, is TFX's own code.
"""
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from google.cloud.aiplatform_v1.types import job_state
from tfx.extensions.google_cloud_ai_platform import training_clients

from tests.support.executors import free_port

TF_TASK_TYPES = {"workerpool0": "chief", "workerpool1": "worker"}


class LocalJobClient(training_clients.VertexJobClient):
    """VertexJobClient whose jobs run here. `jobs` keeps every CustomJob it was given."""

    jobs: List[Dict[str, Any]] = []
    results: Dict[str, int] = {}  # "workerpool<p>-<index>" -> exit code, of the last job.
    log_dir = ""
    kill_after: Optional[tuple] = None  # (pool, index, text): SIGKILL that replica on `text`.
    timeout_s = 600

    def create_client(self) -> None:
        self._client = None

    def launch_job(self, project: str, training_job: Dict[str, Any]) -> None:
        LocalJobClient.jobs.append(training_job)
        self._job_name = f"projects/{project}/locations/{self._region}/customJobs/local"
        LocalJobClient.results = self._run(training_job)

    def _run(self, job: Dict[str, Any]) -> Dict[str, int]:
        pools = job["job_spec"]["worker_pool_specs"]
        addresses = {f"workerpool{p}": [f"127.0.0.1:{free_port()}"
                                         for _ in range(pool.get("replica_count", 1))]
                     for p, pool in enumerate(pools)}
        processes = {}
        for p, pool in enumerate(pools):
            name = f"workerpool{p}"
            for index in range(pool.get("replica_count", 1)):
                cluster_spec = {"cluster": addresses, "task": {"type": name, "index": index}}
                tf_config = {"cluster": {TF_TASK_TYPES[n]: a for n, a in addresses.items()},
                             "task": {"type": TF_TASK_TYPES[name], "index": index},
                             "environment": "cloud"}
                env = dict(os.environ, CLUSTER_SPEC=json.dumps(cluster_spec),
                           TF_CONFIG=json.dumps(tf_config))
                command = pool["container_spec"]["command"]
                command = [sys.executable if command[0] == "python" else command[0],
                           *command[1:]]
                log_path = os.path.join(self.log_dir, f"{name}-{index}.log")
                processes[(p, index)] = (subprocess.Popen(
                    command, env=env, stdout=open(log_path, "w"),
                    stderr=subprocess.STDOUT), log_path)
        deadline = time.monotonic() + self.timeout_s
        killed = False
        LocalJobClient.finished_at = {}
        while any(process.poll() is None for process, _ in processes.values()):
            for key, (process, _) in processes.items():
                if process.poll() is not None:
                    LocalJobClient.finished_at.setdefault(key, time.monotonic())
            if self.kill_after and not killed:
                pool, index, text = self.kill_after
                process, log_path = processes[(pool, index)]
                with open(log_path) as log:
                    if text in log.read():
                        process.kill()
                        killed = True
                        LocalJobClient.killed_at = time.monotonic()
            if time.monotonic() > deadline:
                for process, _ in processes.values():
                    process.kill()
            time.sleep(0.2)
        for key in processes:
            LocalJobClient.finished_at.setdefault(key, time.monotonic())
        return {f"workerpool{p}-{i}": process.returncode
                for (p, i), (process, _) in processes.items()}

    def get_job(self):
        failed = any(code != 0 for code in self.results.values())
        return {"state": job_state.JobState.JOB_STATE_FAILED if failed
                else job_state.JobState.JOB_STATE_SUCCEEDED, "results": self.results}

    def get_job_state(self, response):
        return response["state"]


def install(monkeypatch, log_dir: str) -> type:
    """Routes TFX's Vertex executors to LocalJobClient for the rest of the test."""
    LocalJobClient.jobs, LocalJobClient.log_dir, LocalJobClient.kill_after = [], log_dir, None
    monkeypatch.setattr(training_clients, "get_job_client",
                        lambda enable_vertex=False, vertex_region=None:
                        LocalJobClient(vertex_region or "us-central1"))
    return LocalJobClient
