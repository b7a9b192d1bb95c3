"""`imdb-pipeline`: run the pipeline locally, report on the last run, classify reviews.

  imdb-pipeline run [--preset smoke|seed|seed-gru|full] [--<any config field> VALUE ...]
  imdb-pipeline report [--output-dir DIR]
  imdb-pipeline predict --model-dir DIR "a review" ["another review" ...]
"""
import argparse
import dataclasses
import logging
import os
import sys
import time
from typing import Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # Before TensorFlow loads: no C++ INFO.

from pipeline.config import PRESETS, ConfigError, PipelineConfig, make_config


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field. Defaults are SUPPRESSed so only given flags override a preset."""
    parser.add_argument("--preset", default="full", choices=sorted(PRESETS),
                        help="Starting values: 'full' (default, whole IMDB), 'smoke' (a few "
                        "hundred reviews), 'seed'/'seed-gru' (the tutorial's models).")
    for field in dataclasses.fields(PipelineConfig):
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{field.metadata.get('help', '')} [default: {field.default!r}]"
        kwargs = dict(dest=field.name, default=argparse.SUPPRESS, help=help_text)
        if field.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        elif "item_type" in field.metadata:
            item = field.metadata["item_type"]
            parser.add_argument(flag, metavar="A,B,...", **kwargs,
                                type=lambda text, item=item: tuple(
                                    item(v) for v in text.split(",") if v.strip()))
        elif "Tuple" in str(field.type):
            parser.add_argument(flag, action="append", metavar="ARG", **kwargs)
        else:
            parser.add_argument(flag, type=field.type if callable(field.type) else str,
                                choices=field.metadata.get("choices"), **kwargs)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    names = {f.name for f in dataclasses.fields(PipelineConfig)}
    overrides = {k: v for k, v in vars(args).items() if k in names}
    return make_config(args.preset, **overrides)


def preflight(config: PipelineConfig) -> PipelineConfig:
    """Fails in seconds, before any component runs, when data or GloVe cannot be found."""
    from components.tfds_example_gen import load_tfds_builder
    from trainer import glove

    if config.tuning == "reuse":
        from pipeline.report import count_artifacts

        if not count_artifacts(config.resolved_metadata_path, "HyperParameters"):
            raise ConfigError(f"--tuning reuse: ML Metadata at {config.resolved_metadata_path} "
                              "holds no tuned hyperparameters yet; run once with --tuning tune")
    print(f"[preflight] TFDS {config.tfds_full_name} in {config.resolved_tfds_data_dir}",
          flush=True)
    builder = load_tfds_builder(config.tfds_full_name, config.resolved_tfds_data_dir,
                                config.text_feature, config.label_feature)
    print(f"[preflight] splits: { {k: v.num_examples for k, v in builder.info.splits.items()} }",
          flush=True)
    path = config.resolved_glove_path
    if path:
        archive, _ = glove.split_zip_member(path)
        import tensorflow as tf

        if not tf.io.gfile.exists(archive or path):
            if config.glove_path or os.environ.get("GLOVE_PATH"):
                raise glove.GloveError(f"GloVe file {archive or path!r} does not exist; fix "
                                       "--glove-path (or GLOVE_PATH), or pass --glove-path none")
            print(f"[preflight] no GloVe at {path}; trying Stanford's glove.6B.zip", flush=True)
            path = glove.fetch_stanford_6b(os.path.dirname(path))
            config = config.replace(glove_path=path)
        print(f"[preflight] GloVe: {path}", flush=True)
    else:
        print("[preflight] GloVe: none (embedding trained from scratch)", flush=True)
    return config


class _StageFilter(logging.Filter):
    """Keeps TFX's stage boundaries and the trainer's own lines; drops TFX's proto dumps."""

    KEEP = ("is running.", "is finished.", "GloVe", "Training with", "Evaluation complete",
            "Model pushed", "Tuning:", "Best HyperParameters", "Tuner embedding")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return not record.getMessage().startswith("ArtifactQuery.property_predicate")
        message = record.getMessage()
        return len(message) < 400 and any(key in message for key in self.KEEP)


def _setup_logging(verbose: bool) -> None:
    from absl import logging as absl_logging

    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger().setLevel(logging.INFO)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_StageFilter())


def cmd_run(args: argparse.Namespace) -> int:
    config = preflight(config_from_args(args))
    from pipeline import local_runner

    _setup_logging(args.verbose)
    print(f"[run] pipeline root {config.resolved_pipeline_root}, ML Metadata "
          f"{config.resolved_metadata_path}", flush=True)
    start = time.time()
    local_runner.run(config)
    print(f"\n[run] finished in {time.time() - start:.0f} s\n", flush=True)
    _print_report(config)
    return 0


def _print_report(config: PipelineConfig) -> None:
    """The last run's report, with its plots written to the output dir."""
    from pipeline import report

    run = report.latest_run(config)
    print(report.format_report(run, report.write_plots(run, config.output_dir)), flush=True)


def cmd_report(args: argparse.Namespace) -> int:
    _print_report(config_from_args(args))
    return 0


def cmd_compile_kubeflow(args: argparse.Namespace) -> int:
    from kubeflow.runner import compile_pipeline

    config = config_from_args(args)
    spec = compile_pipeline(config, args.output, image=args.image, trainer_gpus=args.gpus,
                            gpu_type=args.gpu_type)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    print(f"wrote {args.output}: {len(tasks)} tasks ({', '.join(sorted(tasks))})")
    return 0


def cmd_serving_config(args: argparse.Namespace) -> int:
    """TF Serving deployment files for the serving dir the pipeline's Pusher writes to."""
    import shlex

    from serving import deploy

    config = config_from_args(args)
    out = args.out or os.path.join(config.output_dir, "serving_config")
    try:
        written = deploy.write_deployment_files(
            out, config.resolved_serving_dir, config.model_name,
            stable_version=args.stable_version, canary_version=args.canary_version,
            enable_batching=args.enable_batching, cpus=args.cpus)
    except ValueError as error:  # A bad model name or version: a usage error, exit code 2.
        raise ConfigError(str(error)) from error
    print(f"wrote {len(written.paths)} files to {written.out_dir}:")
    for path in written.paths:
        print(f"  {os.path.relpath(path, written.out_dir)}")
    print("docker: " + " ".join(shlex.quote(arg) for arg in written.docker_command))
    models_config = os.path.join(written.out_dir, deploy.MODELS_CONFIG)
    if os.path.abspath(config.resolved_models_config) != models_config:
        print(f"note: the Pusher's retention reads version labels from "
              f"{config.resolved_models_config}, not {models_config} (see --models-config)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from trainer.training import RAW_TEXT_SIGNATURE

    model_dir = args.model_dir
    versions = sorted((d for d in tf.io.gfile.listdir(model_dir) if d.strip("/").isdigit()),
                      key=lambda d: int(d.strip("/")))
    if versions:  # A Pusher serving dir: take the newest version.
        model_dir = os.path.join(model_dir, versions[-1])
    texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
    classify = tf.saved_model.load(model_dir).signatures[RAW_TEXT_SIGNATURE]
    probabilities = classify(text=tf.constant(texts))["probability"].numpy()[:, 0]
    for text, probability in zip(texts, probabilities):
        label = "positive" if probability >= 0.5 else "negative"
        print(f"{probability:.3f}  {label:<8}  {text[:100]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imdb-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Run the whole pipeline locally (BeamDagRunner).")
    _add_config_flags(run)
    run.add_argument("--verbose", action="store_true", help="Show TFX's full INFO logs.")
    run.set_defaults(handler=cmd_run)
    report = commands.add_parser("report", help="Per-component times, metrics and outputs of "
                                 "the latest run, from ML Metadata.")
    _add_config_flags(report)
    report.set_defaults(handler=cmd_report)
    kfp = commands.add_parser("compile-kubeflow", help="Compile the same pipeline to a "
                              "Kubeflow Pipelines (v2) JSON spec.")
    _add_config_flags(kfp)
    kfp.add_argument("--output", default="imdb_pipeline_kubeflow.json", help="Spec file.")
    kfp.add_argument("--image", default="gcr.io/YOUR_PROJECT/imdb-rnn-pipeline:latest",
                     help="Image built from kubeflow/Dockerfile.")
    kfp.add_argument("--gpus", type=int, default=1, help="GPUs for the Trainer (0 = CPU).")
    kfp.add_argument("--gpu-type", default="nvidia-tesla-t4", help="Accelerator type.")
    kfp.set_defaults(handler=cmd_compile_kubeflow)
    sc = commands.add_parser("serving-config", help="Write TF Serving deployment files (server "
                             "configs, docker run, Compose, Kubernetes, KServe) for the serving "
                             "dir the Pusher writes to.")
    _add_config_flags(sc)  # --serving-dir, --output-dir, --model-name: as the pipeline's.
    sc.add_argument("--out", default="", help="Output folder [default: "
                    "<output-dir>/serving_config].")
    sc.add_argument("--stable-version", type=int, help="Serve this version under label "
                    "'stable' (with --canary-version: exactly these versions).")
    sc.add_argument("--canary-version", type=int, help="Serve this version under label 'canary'.")
    sc.add_argument("--enable-batching", action="store_true", help="Turn on server-side "
                    "batching (its parameters were not measured here).")
    sc.add_argument("--cpus", type=int, default=None, help="Cores per server: batch threads and "
                    "Kubernetes CPU request/limit [default: this machine's].")
    sc.set_defaults(handler=cmd_serving_config)
    predict = commands.add_parser("predict", help="Classify reviews with an exported model.")
    predict.add_argument("--model-dir", required=True, help="A SavedModel, or a serving dir "
                         "of numbered versions (the newest is used).")
    predict.add_argument("texts", nargs="*", help="Reviews (default: one per line on stdin).")
    predict.set_defaults(handler=cmd_predict)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"imdb-pipeline: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # Known, actionable failures get one line, not a stack trace.
        from components.data_validation import DataAnomaliesError
        from components.tfds_example_gen import TfdsDataError
        from trainer.glove import GloveError

        if isinstance(error, (TfdsDataError, GloveError, DataAnomaliesError)):
            print(f"imdb-pipeline: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
