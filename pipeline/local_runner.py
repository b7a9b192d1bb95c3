"""Runs the pipeline locally: BeamDagRunner (DirectRunner) with SQLite ML Metadata."""
import os

from tfx.orchestration import metadata
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline


def run(config: PipelineConfig) -> None:
    for path in (config.resolved_pipeline_root, os.path.dirname(config.resolved_metadata_path)):
        if path and "://" not in path:
            os.makedirs(path, exist_ok=True)
    BeamDagRunner().run(create_pipeline(
        config, metadata.sqlite_metadata_connection_config(config.resolved_metadata_path)))
