"""The one base class of failures a user can act on (bad data, a missing file, a server error).

The CLI catches it once and prints one line with its exit code instead of a traceback. It lives
in `contract/`, the neutral package every other one may import, so components, trainer,
serving and kubeflow code can raise it without depending on the CLI or on each other.
"""


class UserError(Exception):
    """A failure with an actionable message; `exit_code` is what the CLI exits with."""

    exit_code = 1
