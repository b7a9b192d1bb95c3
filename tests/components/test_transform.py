"""components/transform.py: the settings that make the approximate vocabulary reproducible."""
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.beam import analyzer_impls
from tfx.proto import example_gen_pb2

from components import transform


def test_batches_have_a_fixed_size():
    processor = transform.FixedBatchTransformProcessor()
    assert processor._GetDesiredBatchSize(example_gen_pb2.FORMAT_TF_EXAMPLE,
                                          schema_pb2.Schema()) == transform.BATCH_SIZE


def test_one_combine_key_and_fixed_batches_only_while_transform_runs(monkeypatch):
    seen = {}
    executor_module = transform.transform_executor
    monkeypatch.setattr(executor_module.Executor, "Do", lambda *args: seen.update(
        fanout=analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT,
        processor=executor_module.TransformProcessor))
    before = analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT
    transform.DeterministicTransformExecutor().Do({}, {}, {})
    assert seen == {"fanout": 1, "processor": transform.FixedBatchTransformProcessor}
    assert before > 1 and analyzer_impls._DEFAULT_COMBINE_GLOBALLY_FANOUT == before
    assert executor_module.TransformProcessor is not transform.FixedBatchTransformProcessor


def test_the_pipeline_uses_it_under_the_usual_node_id():
    from pipeline.config import make_config
    from pipeline.pipeline import create_components

    [node] = [c for c in create_components(make_config()) if c.id == "Transform"]
    assert isinstance(node, transform.DeterministicTransform)
