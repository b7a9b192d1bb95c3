"""The pipeline's custom TFX components and executors."""


def __getattr__(name: str):
    # Kubeflow V2 records a custom artifact type as "<module>.<Class>" with exactly one dot
    # and imports it by that path inside the container, so `components.DataDrift` must
    # resolve; imported on first use, not with the package.
    if name == "DataDrift":
        from components.drift import DataDrift

        return DataDrift
    raise AttributeError(f"module 'components' has no attribute {name!r}")
