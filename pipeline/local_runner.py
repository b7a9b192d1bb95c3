"""Runs the pipeline locally: BeamDagRunner (DirectRunner) with SQLite ML Metadata."""
import os

from tfx.orchestration import metadata
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.run_lock import exclusive_run


def run(config: PipelineConfig) -> None:
    with exclusive_run(config.resolved_metadata_path):
        if "://" not in config.resolved_pipeline_root:
            os.makedirs(config.resolved_pipeline_root, exist_ok=True)
        BeamDagRunner().run(create_pipeline(
            config, metadata.sqlite_metadata_connection_config(config.resolved_metadata_path)))
