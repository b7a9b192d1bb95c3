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
