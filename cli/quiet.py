"""Importing TensorFlow without its known import-time noise.

TensorFlow 2.15's pip wheel registers its CUDA plugins twice and logs three "Unable to register
cuDNN/cuFFT/cuBLAS factory" lines at ERROR level on every import, GPU or not
(tensorflow/tensorflow#62075). TF_CPP_MIN_LOG_LEVEL cannot hide them without hiding real errors,
so the import runs with the process's stderr sent to a file, and every other line is written
back to stderr afterwards.
"""
import os
import re
import sys
import tempfile

KNOWN_NOISE = re.compile(rb"Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register "
                         rb"factory for plugin cu(DNN|FFT|BLAS) when one has already been "
                         rb"registered")


def import_tensorflow() -> None:
    """`import tensorflow`, dropping exactly the known noise lines from stderr."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True)
                    if not KNOWN_NOISE.search(line)]
            if kept:
                os.write(2, b"".join(kept))
