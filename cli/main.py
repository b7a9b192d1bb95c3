"""`imdb-pipeline`: run the pipeline locally, report on the last run, classify and score reviews.

  imdb-pipeline run [--preset full|recurrent|smoke|seed|seed-gru] [--<config field> VALUE ...]
  imdb-pipeline report [--output-dir DIR] [--html [PATH]] [--screenshot PNG]
  imdb-pipeline predict --model-dir DIR | --rest URL | --grpc HOST:PORT "a review" ...
  imdb-pipeline score --model-dir DIR | --rest URL | --grpc HOST:PORT --input F --output O
  imdb-pipeline serving-config [--serving-dir DIR] [--stable-version N] ...
  imdb-pipeline compile-kubeflow --target vertex|kfp --image IMAGE ...
  imdb-pipeline submit-kubeflow SPEC --target vertex|kfp [--dry-run] ...
"""
import argparse
import atexit
import logging
import os
import sys
import time
from typing import Optional, Sequence

import warnings

# Quiet by default, before TensorFlow loads: its C++ INFO and WARNING lines (e.g. two dozen
# "Output shapes may be inaccurate" when the report loads the export) and the Google client
# libraries' Python-version notices say nothing about this run. Errors stay visible;
# `--verbose` shows everything.
if "--verbose" not in sys.argv:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="You are using a non-supported Python version",
                            category=FutureWarning)

from cli import flags
from pipeline.config import (LOCATION_FIELDS, PRESETS, ConfigError, PipelineConfig,
                             make_config)
from contract.errors import UserError
from contract.names import DEFAULT_MODEL_NAME


def _add_config_flags(parser: argparse.ArgumentParser, only=None) -> None:
    """One flag per config field (or per field in `only`); only the flags given override the
    preset."""
    if only is None:
        parser.add_argument("--preset", default="full", choices=sorted(PRESETS),
                            help="Starting values: 'full' (default, whole IMDB), 'recurrent' "
                            "(the same without the wide part), 'smoke' (a few hundred reviews), "
                            "'seed'/'seed-gru' (the tutorial's models).")
    flags.add_flags(parser, PipelineConfig, only=only, overrides_only=True)


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    return make_config(getattr(args, "preset", "full"), **flags.given(PipelineConfig, args))


class _StageFilter(logging.Filter):
    """Keeps TFX's stage boundaries and every line of our own code (trainer/, components/);
    drops TFX's proto dumps."""

    KEEP = ("is running.", "is finished.", "Evaluation complete", "Model pushed",
            "Best HyperParameters")
    OWN_CODE = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  package) + os.sep for package in ("trainer", "components"))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            return False  # A gate's refusal: the CLI prints it as one line at the end.
        if record.levelno >= logging.WARNING:
            return not record.getMessage().startswith("ArtifactQuery.property_predicate")
        if os.path.abspath(record.pathname).startswith(self.OWN_CODE):
            return True
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
    from pipeline import local_runner
    from pipeline.preflight import preflight

    config = preflight(config_from_args(args))

    _setup_logging(args.verbose)
    print(f"[run] pipeline root {config.resolved_pipeline_root}, ML Metadata "
          f"{config.resolved_metadata_path}", flush=True)
    start = time.time()
    local_runner.run(config)
    print(f"\n[run] finished in {time.time() - start:.0f} s\n", flush=True)
    _print_report(config, html="")
    return 0


def _print_report(config: PipelineConfig, html: Optional[str] = None, screenshot: str = "",
                  reviews: Optional[int] = None) -> None:
    """The last run's report, with its plots written to the output dir; with `html` ("" = the
    default per-run path) also the self-contained HTML page, and its screenshot if asked."""
    from reports import report
    from reports import run_record

    run = run_record.latest_run(config)
    from components import span_ledger

    ledger = span_ledger.read(config.span_ledger_dir) or None  # None: a TFDS run.
    print(report.format_report(run, report.write_plots(run, config.output_dir), ledger),
          flush=True)
    if html is None:
        return
    from reports import html_report

    path = html_report.write_html_report(config, html, run, html_report.DEFAULT_REVIEWS
                                         if reviews is None else reviews)
    print(f"HTML report:        {path}", flush=True)
    if screenshot:
        from reports import report_browser

        print(f"Screenshot:         {report_browser.screenshot(path, screenshot)}", flush=True)


def cmd_report(args: argparse.Namespace) -> int:
    from reports.report_browser import BrowserError

    html = "" if args.html is None and args.screenshot else args.html
    try:
        _print_report(config_from_args(args), html, args.screenshot, args.report_reviews)
    except BrowserError as error:  # No chromium: the page is written, only the PNG is not.
        print(f"imdb-pipeline: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_compile_kubeflow(args: argparse.Namespace) -> int:
    from kubeflow.options import CompileOptions
    from kubeflow.runner import compile_pipeline, pipeline_spec

    options = flags.from_flags(CompileOptions, args)
    compiled = compile_pipeline(config_from_args(args), options)
    spec = pipeline_spec(compiled)
    tasks = spec["root"]["dag"]["tasks"]
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    defaults = ", ".join(f"{name}={body.get('defaultValue')!r}"
                         for name, body in sorted(params.items()))
    print(f"wrote {options.output} (--target {options.target}, schema "
          f"{spec['schemaVersion']}): "
          f"{len(tasks)} tasks ({', '.join(sorted(tasks))}); run parameters: {defaults}")
    return 0


def cmd_submit_kubeflow(args: argparse.Namespace) -> int:
    from kubeflow import submit
    from kubeflow.options import SubmitOptions

    return submit.main(flags.from_flags(SubmitOptions, args))


def cmd_serving_config(args: argparse.Namespace) -> int:
    """TF Serving deployment files for the serving dir the pipeline's Pusher writes to."""
    import shlex

    from serving import deploy, models_config

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
    written_config = os.path.join(written.out_dir, models_config.MODELS_CONFIG)
    if os.path.abspath(config.resolved_models_config) != written_config:
        print(f"note: the Pusher's retention reads version labels from "
              f"{config.resolved_models_config}, not {written_config} (see --models-config)")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from contract.review_files import ReviewFormat
    from serving.batch import input_files, score_files
    from serving.client import ClientOptions, make_client

    try:
        options = flags.from_flags(ClientOptions, args)
    except ValueError as error:
        raise ConfigError(f"score: {error}") from None
    files = input_files(args.input)
    print(f"[score] {len(files)} file(s) from {args.input}", flush=True)
    with make_client(model_dir=args.model_dir, rest=args.rest, grpc_target=args.grpc,
                     model_name=args.model_name, version=args.version,
                     options=options) as client:
        review_format = ReviewFormat(client.text_feature, "", (), args.input_format)
        summary = score_files(client, files, review_format, args.output, args.batch_size)
    print(f"[score] {summary.reviews} reviews in {summary.seconds:.1f} s "
          f"({summary.reviews_per_second:.0f} reviews/s) -> {summary.output}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from serving.client import ClientOptions, make_client

    if args.texts and args.file:
        raise ConfigError("predict: give reviews as arguments or with --file, not both")
    if args.model_dir and args.label:
        raise ConfigError("predict: --label needs a server (--rest or --grpc)")
    try:
        options = flags.from_flags(ClientOptions, args)
    except ValueError as error:
        raise ConfigError(f"predict: {error}") from None
    # Reviews from the arguments, else --file, else stdin: one per non-blank line.
    texts = list(args.texts)
    if not texts and args.file:
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                texts = [line.strip() for line in f if line.strip()]
        except OSError as error:
            raise ConfigError(f"predict: cannot read --file: {error}") from None
    elif not texts:
        texts = [line.strip() for line in sys.stdin if line.strip()]
    with make_client(model_dir=args.model_dir, rest=args.rest, grpc_target=args.grpc,
                     model_name=args.model_name, version=args.version,
                     label=args.label, options=options) as client:
        predictions = client.predict(texts)
    for text, prediction in zip(texts, predictions):
        if args.json:
            record = {"text": text, "probability": prediction.probability,
                      "label": prediction.label}
            if prediction.scores is not None:
                record["scores"] = prediction.scores
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{prediction.probability:.3f}  {prediction.label:<8}  {text[:100]}")
    return 0


def _add_client_flags(parser: argparse.ArgumentParser, options=None) -> None:
    """Where the model is (in process or a server), its name, and the client's options."""
    # serving.client imports TensorFlow only when a request is built, so the flags are cheap.
    from serving.client import ClientOptions

    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--model-dir", help="In process: a SavedModel, or a serving dir of "
                       "numbered versions (the newest, or --version).")
    where.add_argument("--rest", metavar="URL", help="TF Serving's REST API, e.g. "
                       "http://localhost:8501.")
    where.add_argument("--grpc", metavar="HOST:PORT", help="TF Serving's gRPC API, e.g. "
                       "localhost:8500.")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="Served model name "
                        "(servers; the pipeline's --model-name) [default: %(default)s].")
    flags.add_flags(parser, ClientOptions, only=options)


def build_parser() -> argparse.ArgumentParser:
    from kubeflow.options import CompileOptions, SubmitOptions

    parser = argparse.ArgumentParser(prog="imdb-pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Run the whole pipeline locally (BeamDagRunner).")
    _add_config_flags(run)
    run.add_argument("--verbose", action="store_true", help="Show TFX's full INFO logs, "
                     "TensorFlow's C++ warnings and library notices.")
    run.set_defaults(handler=cmd_run)
    report = commands.add_parser("report", help="Per-component times, metrics and outputs of "
                                 "the latest run, from ML Metadata.")
    _add_config_flags(report, only=LOCATION_FIELDS)
    report.add_argument("--html", nargs="?", const="", default=None, metavar="PATH",
                        help="Also write the run's self-contained HTML page [default PATH: "
                        "<output-dir>/reports/run-<run id>.html].")
    report.add_argument("--screenshot", default="", metavar="PNG", help="Also save a "
                        "screenshot of the HTML page (headless Chromium; implies --html).")
    report.add_argument("--report-reviews", type=int, default=None, metavar="N",
                        help="Test reviews the HTML page scores for its confusion matrix, "
                        "length buckets and calibration (0 = all) [default: 5000].")
    report.set_defaults(handler=cmd_report)
    kfp = commands.add_parser("compile-kubeflow", help="Compile the same pipeline for Vertex "
                              "AI Pipelines (PipelineJob JSON) or open-source Kubeflow Pipelines "
                              "(PipelineSpec), offline; see docs/kubeflow.md.")
    _add_config_flags(kfp)
    flags.add_flags(kfp, CompileOptions)
    kfp.set_defaults(handler=cmd_compile_kubeflow)
    submit = commands.add_parser("submit-kubeflow", help="Submit a compiled spec to Vertex AI "
                                 "Pipelines or to a KFP 2.x API; --dry-run checks it offline and "
                                 "prints what would be sent.")
    flags.add_flags(submit, SubmitOptions)
    submit.set_defaults(handler=cmd_submit_kubeflow)
    sc = commands.add_parser("serving-config", help="Write TF Serving deployment files (server "
                             "configs, docker run, Compose, Kubernetes, KServe) for the serving "
                             "dir the Pusher writes to.")
    _add_config_flags(sc, only=LOCATION_FIELDS)  # --serving-dir, --model-name, ...
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
    predict = commands.add_parser("predict", help="Classify reviews with an exported model, "
                                  "in process or through TF Serving (REST or gRPC).")
    _add_client_flags(predict)
    version = predict.add_mutually_exclusive_group()
    version.add_argument("--version", type=int, help="Model version [default: the newest].")
    version.add_argument("--label", help="Version label, e.g. stable or canary (servers only).")
    predict.add_argument("--file", metavar="PATH", help="Reviews, one per line (instead of "
                         "arguments or stdin).")
    predict.add_argument("--json", action="store_true", help="One JSON object per review "
                         "per line instead of the table.")
    predict.add_argument("texts", nargs="*", help="Reviews (default: --file, else one per "
                         "line on stdin).")
    predict.set_defaults(handler=cmd_predict)

    score = commands.add_parser("score", help="Score a file, folder or glob of unlabelled "
                                "reviews with the newest pushed model (or a server) into JSON "
                                "lines or CSV.")
    _add_client_flags(score, options=("text_feature", "batch_size"))
    score.add_argument("--version", type=int, help="Model version [default: the newest].")
    score.add_argument("--input", required=True, help="CSV (a text column: --text-feature), "
                       "TFRecord of tf.Example, or .txt (one review per line): a file, folder "
                       "or glob.")
    score.add_argument("--output", required=True, help="Where the scores go: .jsonl or .csv "
                       "(one row per review: file, row, probability, label).")
    score.add_argument("--input-format", default="auto", choices=("auto", "csv", "tfrecord"),
                       help="[default: by file name].")
    score.set_defaults(handler=cmd_score)
    return parser


def _quiet_teardown() -> None:
    """At interpreter exit, TF functions of SavedModels still cached by TFMA or the report are
    deleted after the modules they need (TF 2.15: `AtomicFunction.__del__` raises TypeError),
    which Python prints as "Exception ignored" tracebacks after the run's last line. Silence
    exactly those, and only once the program is ending."""
    default_hook = sys.unraisablehook

    def hook(unraisable) -> None:
        if not (isinstance(unraisable.exc_value, TypeError)
                and "AtomicFunction.__del__" in repr(unraisable.object)):
            default_hook(unraisable)

    sys.unraisablehook = hook


atexit.register(_quiet_teardown)


# Commands that load TensorFlow (predict only in process): they import it first, quietly.
_TENSORFLOW_COMMANDS = {cmd_run, cmd_report, cmd_compile_kubeflow, cmd_serving_config,
                        cmd_score}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "verbose", False) and (
            args.handler in _TENSORFLOW_COMMANDS
            or (args.handler is cmd_predict and args.model_dir)):
        from cli import quiet

        quiet.import_tensorflow()
    try:
        return args.handler(args)
    except UserError as error:  # Known, actionable failures: one line, not a stack trace.
        print(f"imdb-pipeline: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
