"""TensorFlow's import-time noise is dropped; everything else written to stderr is kept."""
import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMPORT_QUIETLY = ("import sys; from cli import quiet; quiet.import_tensorflow(); "
                  "print('after import', file=sys.stderr)")


def _stderr(code: str, pythonpath: str = "") -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, REPO) if p)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    return done.stderr


def test_only_the_known_lines_are_dropped(tmp_path):
    """A stand-in `tensorflow` package writes the three known lines and a real error to fd 2
    (as TF's C++ logging does) while it is imported."""
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        import os
        for plugin in ("cuDNN", "cuFFT", "cuBLAS"):
            os.write(2, (f"2026-01-01 E cuda.cc:1] Unable to register {plugin} factory: "
                         f"Attempting to register factory for plugin {plugin} when one has "
                         "already been registered\\n").encode())
        os.write(2, b"E some_op.cc:7] a real error\\n")
    """))
    stderr = _stderr(IMPORT_QUIETLY, str(tmp_path))
    assert "Unable to register" not in stderr
    assert "a real error" in stderr and "after import" in stderr


def test_real_tensorflow_import_prints_none_of_them():
    stderr = _stderr(IMPORT_QUIETLY)
    assert "Unable to register" not in stderr, stderr
    assert "after import" in stderr
