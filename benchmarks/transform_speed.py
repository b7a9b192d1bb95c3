"""How long Transform's work takes with a given preprocessing setting and Beam mode.

Runs what the Transform component runs, on a finished run's ExampleGen output and schema:
analyze `train` with `trainer.preprocessing.preprocessing_fn`, then transform `train` and
`eval` (the records are counted, not written). Used to pick the wide part's vocabulary method
and the Beam direct runner's mode; prints JSON with the seconds, the CPU model and the md5 of
the n-gram vocabulary (run it twice to see whether the vocabulary is reproducible: by default
with the pipeline's deterministic Transform settings, components/transform.py; `--adaptive`
with TFX's stock ones).

    .venv/bin/python benchmarks/transform_speed.py --output-dir pipeline_output
    .venv/bin/python benchmarks/transform_speed.py --ngram-vocab-exact --ngram-vocab-size 300000
    .venv/bin/python benchmarks/transform_speed.py --workers 2
"""
import argparse
import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
import time

import apache_beam as beam
import tensorflow_transform.beam as tft_beam
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils
from tfx_bsl.public import tfxio

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reports import run_record
from components import transform  # noqa: E402
from pipeline.config import make_config  # noqa: E402
from trainer import preprocessing  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="pipeline_output")
    parser.add_argument("--ngram-vocab-size", type=int, default=None)
    parser.add_argument("--ngram-max", type=int, default=None)
    parser.add_argument("--ngram-vocab-exact", action="store_true")
    parser.add_argument("--adaptive", action="store_true",
                        help="TFX's stock batching and TFT's random combine fanout.")
    parser.add_argument("--workers", type=int, default=1,
                        help="1: Beam's in_memory direct runner; N > 1: multi_processing.")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("ngram_vocab_size", args.ngram_vocab_size),
                                   ("ngram_max", args.ngram_max)) if v is not None}
    config = make_config(ngram_vocab_exact=args.ngram_vocab_exact, **overrides)
    run = run_record.latest_run(make_config(output_dir=args.output_dir))
    examples = run.artifact("TfdsExampleGen", "examples").uri
    schema = io_utils.parse_pbtxt_file(
        os.path.join(run.artifact("CuratedSchemaGen", "schema").uri, "schema.pbtxt"),
        schema_pb2.Schema())
    preprocessing_fn = functools.partial(preprocessing.preprocessing_fn,
                                         custom_config=config.transform_config())
    mode = "multi_processing" if args.workers > 1 else "in_memory"
    options = beam.options.pipeline_options.PipelineOptions(
        [f"--direct_running_mode={mode}", f"--direct_num_workers={args.workers}"])

    batch_size = None if args.adaptive else transform.BATCH_SIZE

    def source(split):
        return tfxio.TFExampleRecord(file_pattern=os.path.join(examples, f"Split-{split}", "*"),
                                     schema=schema)

    keys = contextlib.nullcontext() if args.adaptive else transform.single_combine_key()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp_dir:
        with keys, beam.Pipeline(options=options) as pipeline, tft_beam.Context(
                temp_dir=temp_dir, desired_batch_size=batch_size):
            raw = {split: pipeline | f"Read[{split}]" >> source(split).BeamSource(batch_size)
                   for split in ("train", "eval")}
            transform_fn = ((raw["train"], source("train").TensorAdapterConfig())
                            | tft_beam.AnalyzeDataset(preprocessing_fn))
            for split in ("train", "eval"):
                transformed, _ = (((raw[split], source(split).TensorAdapterConfig()),
                                   transform_fn)
                                  | f"Transform[{split}]" >> tft_beam.TransformDataset(
                                      output_record_batches=True))
                _ = (transformed | f"Rows[{split}]" >> beam.Map(lambda batch: batch[0].num_rows)
                     | f"Sum[{split}]" >> beam.CombineGlobally(sum))
            _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(temp_dir, "graph"))
        seconds = time.perf_counter() - start
        vocabulary = os.path.join(temp_dir, "graph", "transform_fn", "assets",
                                  preprocessing.NGRAM_VOCAB_NAME)
        digest = ""
        if os.path.exists(vocabulary):
            with open(vocabulary, "rb") as handle:
                digest = hashlib.md5(handle.read()).hexdigest()
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "beam_mode": mode,
              "workers": args.workers, "ngram_vocab_size": config.ngram_vocab_size,
              "ngram_max": config.ngram_max, "ngram_vocab_exact": config.ngram_vocab_exact,
              "adaptive": args.adaptive, "seconds": round(seconds, 1),
              "ngram_vocab_md5": digest}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
