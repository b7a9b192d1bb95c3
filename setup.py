"""IMDB sentiment with LSTM/GRU + GloVe on TFX 1.15. Install with the pinned constraints:
    pip install -c constraints.txt -e .[test]
"""
from setuptools import find_packages, setup

setup(
    name="imdb-rnn-pipeline",
    version="0.1.0",
    description="TFX pipeline: TFDS IMDB -> Transform -> LSTM/GRU with GloVe -> TFMA -> Pusher",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=[
        "pipeline", "pipeline.*", "cli", "cli.*", "reports", "reports.*",
        "components", "components.*", "contract", "contract.*", "trainer", "trainer.*",
        "kubeflow", "kubeflow.*", "serving", "serving.*"]),
    install_requires=[
        "tfx[kfp]==1.15.1",
        "tensorflow==2.15.1",
        "tensorflow-transform==1.15.0",
        "tensorflow-model-analysis==0.46.0",
        "tensorflow-data-validation==1.15.1",
        "tensorflow-datasets==4.9.6",
        "keras-tuner==1.4.7",
        "scikit-learn",  # keras-tuner's BayesianOptimization
        "tensorflow-serving-api==2.15.1",
        "matplotlib",
        "pyyaml",  # serving-config writes the Compose and Kubernetes files
    ],
    extras_require={"test": ["pytest", "pytest-xdist", "ruff"]},
    entry_points={"console_scripts": ["imdb-pipeline=cli.main:main"]},
)
