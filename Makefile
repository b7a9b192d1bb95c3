# The README's two commands: `make run` (full pipeline on IMDB) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: test-fast venv run smoke test lint data constraints clean chromium

$(VENV)/.installed: setup.py constraints.txt
	@test -x $(PY) || { py=$$(scripts/find_python.sh) && echo "creating $(VENV) with $$py" && $$py -m venv $(VENV); }
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -c constraints.txt -e .[test]
	touch $@

venv: $(VENV)/.installed

# Offline IMDB + GloVe 50d for machines without Stanford access (idempotent, ~1 min).
data: venv
	@if [ -x ../shared/data/prepare.sh ] || [ -f ../shared/data/prepare.sh ]; then \
	  PYTHON=$(PY) bash ../shared/data/prepare.sh; \
	else echo "no ../shared/data/prepare.sh: TFDS will download IMDB itself (needs network)"; fi

run: data
	$(VENV)/bin/imdb-pipeline run $(ARGS)

smoke: data
	$(VENV)/bin/imdb-pipeline run --preset smoke --output-dir pipeline_output/smoke $(ARGS)

test: venv chromium lint
	# No -v: absl (parsed from sys.argv inside TFX) reads -v as its own --verbosity flag.
	# One pytest worker per core, each taking whole test files, so a module's fixtures (a tiny
	# pipeline run, the Kubeflow entrypoint run) are made once. (xdist's --dist loadgroup would
	# keep the shared tiny run's tests on one worker, but does not group under pytest 9.)
	$(PY) -m pytest tests -n auto --dist loadfile -ra --durations=15 $(ARGS)

# Everything but the end-to-end tests (the `e2e` marker: tests/conftest.py): a quick check
# while working; CI runs `make test`.
test-fast: venv lint
	$(PY) -m pytest tests -m "not e2e" -n auto --dist loadfile -ra --durations=10 $(ARGS)

# ruff.toml: pyflakes' checks, syntax errors, line length; pinned in constraints.txt.
lint: venv
	$(VENV)/bin/ruff check .

# Headless Chromium for the HTML report's browser test (Debian's package): installed once, as
# root, quietly; without it that test skips and says why.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  echo "installing Debian's chromium for the browser test" && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  >/tmp/apt-chromium.log 2>&1; } || echo "no chromium (see /tmp/apt-chromium.log): the browser test will skip"

constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^imdb-rnn-pipeline' > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf pipeline_output
