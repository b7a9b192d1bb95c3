#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter: $PYTHON, python3.10 on PATH, or a pyenv install.
set -euo pipefail
works() { [ -n "$1" ] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; }
for candidate in "${PYTHON:-}" "$(command -v python3.10 || true)" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "No Python 3.10 found: install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10" >&2
exit 1
