# Mailbox Access Lab: set up, start the course, run the tests.
#
#   make start   create .venv if needed, make the student edition (student-edition/) if it is
#                missing or older than notebooks/, then open its start page in JupyterLab
#                (127.0.0.1 only), without the instructor's tools, as on Binder
#   make instructor   JupyterLab on the instructor's sources (notebooks/), with nbgrader's
#                formgrader and create-assignment tools
#   make test    create .venv if needed, then lint (ruff) and run every test (pytest)
#   make bench   run the benchmarks against real Dovecot and pymap (prints figures;
#                not part of `make test`); BENCH_ARGS=--quick for a short run
#   make soak / crash / fuzz   the long reliability runs (README: "Reliability")
#   make lock    regenerate constraints.txt from requirements*.txt in a scratch venv
#   make assignments / release / collect / autograde / feedback
#                nbgrader for instructors, every assignment (README: "For instructors")
#   make student-edition   the student version of every notebook, in student-edition/
#   make clean   remove .venv and the tool caches

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11: python3.11 if it is on PATH, else python3 when that is 3.11.
# Override with `make PYTHON=/path/to/python3.11 ...`.
ifndef PYTHON
PYTHON := $(shell command -v python3.11 2>/dev/null || \
	{ python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && \
	  command -v python3; })
endif

VENV := .venv
PY := $(VENV)/bin/python
# The venv's commands (labserver, jupyter, nbgrader) come first on PATH, also for `!labserver`
# in notebooks and for JupyterLab's terminals.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Touched after a successful install: the venv is brought up to date only when one of
# the files it was built from changes.
STAMP := $(VENV)/install.stamp
INSTALL_INPUTS := requirements.txt requirements-test.txt constraints.txt pyproject.toml

# What a learner works in (`make start`, Binder): nbgrader's release version of the course.
STUDENT_EDITION := student-edition
START_NOTEBOOK := $(STUDENT_EDITION)/00-start-here/00-start-here.ipynb
INSTRUCTOR_NOTEBOOK := notebooks/00-start-here/00-start-here.ipynb
# Extra arguments for JupyterLab, e.g. `make start LAB_ARGS=--port=8899`.
LAB_ARGS ?=
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-k environment"`, or
# PYTEST_ARGS="-n 2" to spread the tests over two processes (pytest-xdist). Serial is the
# default while the whole suite takes seconds: on two cores, -n 2 was measured slower.
PYTEST_ARGS ?=

# Jupyter reads its configuration from the project, never from the user's home:
# .jupyter/jupyter_server_config.py and .jupyter/lab/settings/overrides.json switch off
# the news pop-up and the update check. Settings a learner changes in the UI, and saved
# workspaces, go to ignored folders under .jupyter/lab/. `make start` reads
# .jupyter/learner/ instead, whose labconfig/page_config.json and jupyter_server_config.json
# switch the instructor's tools off, as postBuild does on Binder, and keeps the learner's
# open tabs (workspaces) there, apart from the instructor's.
export JUPYTER_CONFIG_DIR := $(CURDIR)/.jupyter
LEARNER_CONFIG_DIR := $(CURDIR)/.jupyter/learner
export JUPYTERLAB_SETTINGS_DIR := $(CURDIR)/.jupyter/lab/user-settings
export JUPYTERLAB_WORKSPACES_DIR := $(CURDIR)/.jupyter/lab/workspaces
# Use the platformdirs locations now (silences jupyter_core's migration warning).
export JUPYTER_PLATFORM_DIRS := 1

# Open a web browser only where one can appear: never in CI (CI=true), and not on a
# Linux machine without a display (where Python would pick a terminal browser).
NO_BROWSER := $(if $(CI),--no-browser,$(if $(filter Linux,$(shell uname -s)),$(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser)))

# Jupyter refuses to run as root unless told; containers often run as root, and the
# server listens on 127.0.0.1 with a token either way.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help start instructor test bench lock venv clean FORCE
.PHONY: soak crash fuzz
.PHONY: assignments release collect autograde feedback student-edition

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(PY):
	@test -n "$(PYTHON)" || { \
	  echo "error: Python 3.11 is needed: no python3.11 on PATH, and python3 is not 3.11." >&2; \
	  echo "       Install it, or run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) $(INSTALL_INPUTS)
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
	  echo "error: $(VENV) is not a Python 3.11 environment; remove it (make clean) and retry." >&2; \
	  exit 1; }
	$(PY) -m pip install -r requirements.txt -r requirements-test.txt -c constraints.txt
	$(PY) -m pip install --no-deps -e .
	@touch $@

# Land on a start page: the browser opens it (the path argument), and the URL the
# server prints, and its root /, lead there too (default_url).
open_at = --LabApp.default_url=/lab/tree/$(1) $(1)
JUPYTER_LAB = $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
	$(NO_BROWSER) $(ALLOW_ROOT) $(LAB_ARGS)

# The learner's copy for `make start`, made with postBuild's nbgrader command into a
# temporary folder; only files that student-edition/ lacks are copied in, so a learner's
# work there is never overwritten. Remade when notebooks/ (or nbgrader_config.py) is newer
# than the stamp, or when one of its notebooks is missing (deleted for a fresh copy).
EDITION_STAMP := $(STUDENT_EDITION)/.made
SOURCE_NOTEBOOKS := $(wildcard notebooks/*/*.ipynb)
EDITION_NOTEBOOKS := $(patsubst notebooks/%,$(STUDENT_EDITION)/%,$(SOURCE_NOTEBOOKS))
MISSING_NOTEBOOKS := $(filter-out $(wildcard $(EDITION_NOTEBOOKS)),$(EDITION_NOTEBOOKS))

$(EDITION_STAMP): $(SOURCE_NOTEBOOKS) nbgrader_config.py $(if $(MISSING_NOTEBOOKS),FORCE) | $(STAMP)
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	existed=$$(test -d $(STUDENT_EDITION) && echo yes || true); \
	echo "nbgrader generate_assignment: the student edition of notebooks/"; \
	$(NBGRADER) generate_assignment --force --no-db --log-level=WARN \
	  --CourseDirectory.release_directory="$$tmp" "*"; \
	added=0; \
	while IFS= read -r file; do \
	  [[ -e "$(STUDENT_EDITION)/$$file" ]] && continue; \
	  mkdir -p "$$(dirname "$(STUDENT_EDITION)/$$file")"; \
	  cp "$$tmp/$$file" "$(STUDENT_EDITION)/$$file"; \
	  added=$$((added + 1)); \
	  if [[ -n "$$existed" ]]; then echo "  added $(STUDENT_EDITION)/$$file"; fi; \
	done < <(cd "$$tmp" && find . -type f | sed 's|^\./||' | sort); \
	if [[ -z "$$existed" ]]; then \
	  echo "$(STUDENT_EDITION)/: $$added files, your copy of the course; your work there is kept."; \
	else \
	  echo "$(STUDENT_EDITION)/ exists: $$added missing files added, none of yours overwritten."; \
	  echo "  For a notebook's newest version, delete or rename yours and run make start again."; \
	fi
	@touch $@

FORCE:

start: $(STAMP) $(EDITION_STAMP)
	JUPYTER_CONFIG_DIR="$(LEARNER_CONFIG_DIR)" \
	  JUPYTERLAB_WORKSPACES_DIR="$(LEARNER_CONFIG_DIR)/lab/workspaces" $(JUPYTER_LAB) \
	  $(call open_at,$(START_NOTEBOOK))

instructor: $(STAMP)
	@test -f $(INSTRUCTOR_NOTEBOOK) || \
	  echo "warning: $(INSTRUCTOR_NOTEBOOK) is missing; JupyterLab opens on the file browser." >&2
	$(JUPYTER_LAB) $(if $(wildcard $(INSTRUCTOR_NOTEBOOK)),$(call open_at,$(INSTRUCTOR_NOTEBOOK)))

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# `make bench BENCH_ARGS=--quick` is the short form (bench/run.py --help for the rest).
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

# The long forms of tests/reliability/ (bench/soak.py, crash.py, fuzz.py); each prints
# its figures and exits non-zero on a lost message, a crash or an escape.
soak: $(STAMP)
	$(PY) bench/soak.py --clients 50 --seconds 300

crash: $(STAMP)
	$(PY) bench/crash.py --kills 200 --format both

fuzz: $(STAMP)
	$(PY) bench/fuzz.py --runs 1000000 --seconds 3600

# nbgrader, for instructors (README, "For instructors"). Every folder of notebooks/ that holds
# a notebook is an assignment; narrow with e.g. `make autograde ASSIGNMENTS=00-start-here`.
ASSIGNMENTS ?= $(sort $(patsubst notebooks/%/,%,$(dir $(wildcard notebooks/*/*.ipynb))))
NBGRADER := $(VENV)/bin/nbgrader
# $(call each,COMMAND ARGS,FOLDER): run `nbgrader COMMAND ARGS ASSIGNMENT` for each assignment;
# with FOLDER, only for those with something in FOLDER/*/ASSIGNMENT (collected, autograded).
each = @set -e; for a in $(ASSIGNMENTS); do \
	  if [ -z "$(2)" ] || compgen -G "$(2)/*/$$a" >/dev/null; then \
	    echo "nbgrader $(1) $$a"; $(NBGRADER) $(1) "$$a"; \
	  else echo "nbgrader $(firstword $(1)) $$a: skipped, nothing in $(2)/ yet"; fi; done

assignments: $(STAMP)
	$(call each,generate_assignment --force)

release: assignments
	$(call each,release_assignment --force)

collect: $(STAMP)
	$(call each,collect --update)

autograde: $(STAMP)
	$(call each,autograde,submitted)

feedback: $(STAMP)
	$(call each,generate_feedback,autograded)
	$(call each,release_feedback,feedback)

# What a self-learner gets: the student versions, without touching the gradebook; each can
# be checked with `nbgrader validate student-edition/NN-topic/NN-topic.ipynb`.
student-edition: $(STAMP)
	rm -rf $(STUDENT_EDITION)
	$(call each,generate_assignment --force --no-db \
	  --CourseDirectory.release_directory=$(STUDENT_EDITION))

# constraints.txt is the complete, tested dependency set: every package that
# `pip install -r requirements.txt -r requirements-test.txt` brings into an empty
# Python 3.11 venv, frozen. Run this after changing a pin in requirements*.txt (and
# environment.yml, which must match requirements.txt), then run `make test`.
lock:
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 is needed." >&2; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet -r requirements.txt -r requirements-test.txt; \
	{ echo "# The complete, tested set of dependencies: a pip freeze of requirements.txt and"; \
	  echo "# requirements-test.txt installed together into an empty Python 3.11 venv."; \
	  echo "# Generated by \`make lock\`; do not edit by hand."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude mailbox-access-lab; } > constraints.txt.new; \
	mv constraints.txt.new constraints.txt; \
	echo "constraints.txt: $$(grep -c '==' constraints.txt) pins"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
