"""TFX's Transform, made deterministic for TFT's approximate (Misra-Gries) vocabulary.

The wide part's n-gram vocabulary is counted with `tft.experimental`'s approximate top-k
(trainer/preprocessing.py), whose sketch depends on how the input is cut and merged. Out of
the box both vary from run to run: Beam batches records adaptively (by measured time), and TFT
spreads its global combines over 10 random keys (`with_fanout`). On full IMDB two identical
runs then gave 200k-entry vocabularies that differed at the boundary, so "same settings, same
model" failed. Fixed batches and a single combine key make the result reproducible (measured:
benchmarks/transform_speed.py prints the vocabulary's md5) at ~10 % more analysis time.
"""
import contextlib
from typing import Any, Dict, Iterator, List

from tensorflow_transform.beam import analyzer_impls
from tfx import types
from tfx.components.transform import executor as transform_executor
from tfx.components.transform.component import Transform
from tfx.dsl.components.base import executor_spec

BATCH_SIZE = 1000  # Records per batch through the preprocessing graph.


@contextlib.contextmanager
def single_combine_key() -> Iterator[None]:
    """TFT's global combines without the random fanout (read when the Beam graph is built)."""
    saved = analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT  # pylint: disable=protected-access
    analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT = 1  # pylint: disable=protected-access
    try:
        yield
    finally:
        analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT = saved  # pylint: disable=protected-access


class FixedBatchTransformProcessor(transform_executor.TransformProcessor):
    """TFX's processor (what Executor.Do delegates to), with fixed-size batches."""

    def _GetDesiredBatchSize(self, data_format: int, schema) -> int:
        return super()._GetDesiredBatchSize(data_format, schema) or BATCH_SIZE


@contextlib.contextmanager
def fixed_batches() -> Iterator[None]:
    """Executor.Do instantiates `TransformProcessor` by its module-level name."""
    saved = transform_executor.TransformProcessor
    transform_executor.TransformProcessor = FixedBatchTransformProcessor
    try:
        yield
    finally:
        transform_executor.TransformProcessor = saved


class DeterministicTransformExecutor(transform_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        with single_combine_key(), fixed_batches():
            super().Do(input_dict, output_dict, exec_properties)


class DeterministicTransform(Transform):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(DeterministicTransformExecutor)
