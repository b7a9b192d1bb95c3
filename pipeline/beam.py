"""Beam options for the data components (ExampleGen, StatisticsGen, Transform, Evaluator).

No options (the default) run Beam's DirectRunner in the component's process. `portable_args`
is the set for Beam's portable runner, which is how Flink and Spark run Python steps: a job
service (Flink's or Spark's job server, or Beam's own `local_job_service_main`) and SDK
workers, here an EXTERNAL worker pool (on Kubernetes a sidecar running the pipeline image:
`python -m apache_beam.runners.worker.worker_pool_main --service_port 50000`).

TFX packs its own installation into a `tfx_ephemeral` sdist and stages it with every Beam
component whose options name no `--extra_packages`, `--setup_file`, `--requirements_file` or
`--sdk_container_image`; workers that run the pipeline image already have it, so pass the image
(`worker_image`) to skip that (docs/scale_out.md).
"""
from typing import List


def portable_args(job_endpoint: str, worker_pool: str, worker_image: str = "") -> List[str]:
    """PortableRunner options: `job_endpoint` host:port of the job service, `worker_pool`
    host:port of the EXTERNAL SDK worker pool, `worker_image` the image that pool runs."""
    args = ["--runner=PortableRunner", f"--job_endpoint={job_endpoint}",
            "--environment_type=EXTERNAL", f"--environment_config={worker_pool}"]
    if worker_image:
        args.append(f"--sdk_container_image={worker_image}")
    return args
