import importlib

import pytest

from cli import main as cli
from contract.errors import UserError

USER_FACING = [("pipeline.config", "ConfigError", 2), ("components.tfds_example_gen",
               "TfdsDataError", 1), ("components.data_validation", "DataAnomaliesError", 1),
               ("components.pusher", "PushError", 1), ("trainer.glove", "GloveError", 1),
               ("contract.settings", "SettingsError", 1), ("serving.errors", "ServingError", 1),
               ("reports.report_browser", "BrowserError", 1), ("pipeline.run_lock",
               "RunLockedError", 1), ("reports.run_record", "NoRunError", 1),
               ("components.skew_guard", "SkewError", 1),
               ("contract.review_files", "InputDataError", 1), ("components.spans",
               "SpanError", 1), ("components.drift", "DriftError", 1), ("serving.batch",
               "ScoringError", 1)]


@pytest.mark.parametrize("module,name,code", USER_FACING)
def test_every_user_facing_error_is_caught_once_by_the_cli(module, name, code, monkeypatch,
                                                            capsys):
    error_class = getattr(importlib.import_module(module), name)
    assert issubclass(error_class, UserError) and error_class.exit_code == code

    def fail(args):
        raise error_class("something the user can fix")

    monkeypatch.setattr(cli, "cmd_report", fail)
    assert cli.main(["report"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["imdb-pipeline: something the user can fix"]


@pytest.mark.parametrize("command", ["run", "report", "predict", "serving-config",
                                     "compile-kubeflow", "submit-kubeflow", "score"])
def test_every_subcommand_has_working_help(command, capsys):
    """argparse %-formats help texts: one stray '%' made `run --help` crash."""
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: imdb-pipeline {command}") and "--" in out
    if command == "run":
        assert "--eval-label-slices" in out and "25 % more" in out and "recurrent" in out


@pytest.mark.parametrize("prepare", ["empty", "foreign"])
def test_report_without_a_run_is_one_line(tmp_path, capsys, prepare):
    if prepare == "foreign":  # An output dir with an ML Metadata file that records no run.
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        connection = metadata_store_pb2.ConnectionConfig()
        connection.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
        metadata_store.MetadataStore(connection)
    assert cli.main(["report", "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imdb-pipeline: ") and "run" in err[0]


def test_other_exceptions_keep_their_traceback(monkeypatch):
    def fail(args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "cmd_report", fail)
    with pytest.raises(KeyError):
        cli.main(["report"])


def test_run_log_keeps_our_own_lines_and_stage_boundaries_only():
    """`imdb-pipeline run` without --verbose: every line our trainer/components log (e.g. the
    wide part's and the distillation's summaries) stays; TFX's INFO chatter goes."""
    import logging
    import os

    import trainer
    import tfx
    from cli.main import _StageFilter

    def record(module_dir, message, level=logging.INFO):
        return logging.LogRecord("root", level, os.path.join(module_dir, "x.py"), 1, message,
                                 None, None)

    trainer_dir = os.path.dirname(trainer.__file__)
    tfx_dir = os.path.dirname(tfx.__file__)
    keep = _StageFilter().filter
    assert keep(record(trainer_dir, "Wide and deep on eval: {...}"))
    assert keep(record(trainer_dir, "Teacher labelled 50000 unlabeled reviews"))
    assert keep(record(tfx_dir, "node Trainer is running."))
    assert not keep(record(tfx_dir, "Using deployment config: executor_specs { ... }"))
    assert keep(record(tfx_dir, "anything at all", logging.WARNING))
