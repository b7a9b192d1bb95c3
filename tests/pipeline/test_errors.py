import importlib

import pytest

from pipeline import cli
from trainer.errors import UserError

USER_FACING = [("pipeline.config", "ConfigError", 2), ("components.tfds_example_gen",
               "TfdsDataError", 1), ("components.data_validation", "DataAnomaliesError", 1),
               ("components.pusher", "PushError", 1), ("trainer.glove", "GloveError", 1),
               ("trainer.settings", "SettingsError", 1), ("serving.client", "ServingError", 1),
               ("pipeline.report_browser", "BrowserError", 1), ("pipeline.run_lock",
               "RunLockedError", 1)]


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
    from pipeline.cli import _StageFilter

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
