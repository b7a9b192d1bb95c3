import os
import signal
import subprocess
import sys
import time

import pytest

from cli import main as cli
from pipeline.run_lock import RunLockedError, exclusive_run, lock_path

_HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from pipeline.run_lock import exclusive_run
with exclusive_run({path!r}):
    print("locked", flush=True)
    time.sleep(600)
"""


def _hold_in_subprocess(metadata_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = subprocess.Popen([sys.executable, "-c", _HOLD.format(root=root,
                                                                    path=metadata_path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_run_on_the_same_store_is_refused_with_the_holder(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    with exclusive_run(path):
        with pytest.raises(RunLockedError, match=rf"pid {os.getpid()}, started .*--output-dir"):
            with exclusive_run(path):
                pass
    with exclusive_run(path):  # Released on exit: the next run goes ahead.
        pass


def test_a_killed_run_leaves_no_stale_lock(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    holder = _hold_in_subprocess(path)
    with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
        with exclusive_run(path):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with exclusive_run(path):
        assert os.path.exists(lock_path(path))


def test_cli_run_refuses_a_busy_output_dir_in_one_line(pipeline_config, tmp_path, capsys):
    output_dir = str(tmp_path / "out")
    holder = _hold_in_subprocess(os.path.join(output_dir, "metadata.sqlite"))
    try:
        start = time.time()
        code = cli.main(["run", "--preset", "smoke", "--output-dir", output_dir,
                         "--tfds-name", pipeline_config.tfds_name,
                         "--tfds-data-dir", pipeline_config.tfds_data_dir,
                         "--glove-path", pipeline_config.glove_path])
        err = capsys.readouterr().err.strip().splitlines()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert code == 1 and time.time() - start < 120
    assert err[-1].startswith("imdb-pipeline: another run is using") and str(holder.pid) in err[-1]
    assert not os.path.exists(os.path.join(output_dir, "root"))  # Nothing ran.
