# peerwell — `make demo` runs the model on its defaults, `make test` runs the test suite.
# Both create .venv on a fresh machine first (with a Python >= 3.12 found by scripts/find-python.sh).
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTHON  ?=
# `make docs` builds the site here (the docs test builds into a folder of its own).
DOCS_OUT      ?= docs/_build/html
DOCS_DOCTREES ?= docs/_build/doctrees

.PHONY: demo test lint format bench clean venv docs FORCE
FORCE:

# An explicit PYTHON=... is remembered: asking for another interpreter than the one .venv was
# made with rebuilds it, so `make test PYTHON=python3.12` really tests with 3.12.
$(VENV)/.python-request: FORCE
	@mkdir -p $(VENV); if [ -n "$(PYTHON)" ]; then \
	  echo "$(PYTHON)" | cmp -s - $@ || echo "$(PYTHON)" > $@; else [ -f $@ ] || : > $@; fi

$(STAMP): pyproject.toml scripts/find-python.sh $(VENV)/.python-request
	@set -e; py=$$(PYTHON="$(PYTHON)" sh scripts/find-python.sh); \
	  v() { "$$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }; \
	  if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV); \
	  elif [ -n "$(PYTHON)" ] && [ "$$(v $(PY))" != "$$(v "$$py")" ]; then \
	    echo "$(VENV) has Python $$(v $(PY)), PYTHON asks for $$(v "$$py"): recreating it with $$py"; \
	    "$$py" -m venv --clear $(VENV); echo "$(PYTHON)" > $(VENV)/.python-request; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,dashboard,docs,dask]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/peerwell run output_dir=$(CURDIR)/outputs/demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	# worksteal: a worker that runs out takes tests queued on the other, so the few long ones
	# (the docs site, the kill-and-resume tests) do not leave one core idle at the end.
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal -m "not browser and not cluster and not solo"
	# Tests that assert on what their process holds in memory (a closed dashboard session's
	# model is freed): in a process of their own, which no other test has rendered into.
	$(VENV)/bin/python -m pytest -m solo
	# The browser tests drive one dashboard server in Chromium: run alone, they do not race the
	# simulations above for the two cores (their timeouts are real-user waits, not benchmarks).
	$(VENV)/bin/python -m pytest -m browser
	# The cluster tests start a SLURM and a Dask cluster on this machine (tests/clusters.py),
	# whose jobs need the cores: alone too (about 2 minutes).
	$(VENV)/bin/python -m pytest -m cluster

# The documentation site (Sphinx + MyST-NB): warnings are errors, the tutorials are executed.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -j auto -W --keep-going -n -E -b html -d $(DOCS_DOCTREES) docs $(DOCS_OUT)
	@echo "the site is in $(DOCS_OUT)/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# The whole performance suite (issue #8), written to benchmarks/RESULTS.md; run it on an idle machine.
# It lives in benchmarks/, outside the installed package, so it runs from this checkout.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .ruff_cache
