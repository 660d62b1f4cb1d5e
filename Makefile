# Two commands are all a learner needs:  `make lab`  and  `make test`.
# Each creates the virtual environment in .venv and installs the tested versions from the lock
# (requirements/*.txt, exported from uv.lock) on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
# Jupyter refuses to run as root unless told; containers and some clusters run as root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# Extra arguments for pytest, e.g.  make test PYTEST_ARGS="-k data -x"
PYTEST_ARGS ?=
# Test files (and notebooks) run this many at a time (pytest-xdist). A notebook's kernel mostly
# keeps one core busy (Python, tracing, compiling), so two at once nearly halve the suite on 2
# cores; each worker needs up to about 4 GiB. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
# The Colab-stack environment (release/colab_stack.toml), tested beside the lock's.
COLAB_VENV ?= .venv-colab
# The Keras backend `make test` and `make lab` use: tensorflow (default), jax or torch. JAX and
# PyTorch are installed into the venv on first use (README, "Choosing the Keras backend").
BACKEND ?= $(or $(KERAS_BACKEND),tensorflow)
ifeq ($(filter tensorflow jax torch,$(BACKEND)),)
$(error BACKEND must be tensorflow, jax or torch, not '$(BACKEND)')
endif
# PyTorch: the release pyproject.toml pins for the lock ([tool.uv] constraint-dependencies).
# On Linux without an NVIDIA GPU, TORCH_INDEX=https://download.pytorch.org/whl/cpu gets the
# CPU build (about 200 MB) instead of PyPI's, which bundles CUDA (several GB).
TORCH_VERSION := $(shell sed -n 's/.*"torch==\([0-9.]*\)".*/\1/p' pyproject.toml)
TORCH_INDEX ?=
BACKEND_INSTALLED := $(if $(filter jax torch,$(BACKEND)),$(VENV)/.$(BACKEND)-installed)
# The installer: uv (https://docs.astral.sh/uv/) when it is on PATH or UV=path/to/uv is given,
# pip otherwise (UV= forces pip). Both install the same hashed pins; uv is about four times faster
# (it unpacks and compiles in parallel). --compile-bytecode writes the .pyc files now, as pip does:
# where PYTHONDONTWRITEBYTECODE is set, nothing writes them later, and every process would compile
# TensorFlow's modules again (a CI test stage took 568 s instead of 383 s). uv does not read pip's
# configuration, so a find-links folder given to pip in PIP_FIND_LINKS is passed on to it.
UV ?= $(shell command -v uv 2>/dev/null)
pip_install = $(if $(UV),$(UV) pip install --compile-bytecode --python $(1)/bin/python $(foreach d,$(PIP_FIND_LINKS),--find-links $(d)),$(1)/bin/python -m pip install)

.PHONY: lab test test-colab lint executed prefetch lock slides site results-status results attendee colab clean help

help:
	@echo "make lab       open the course in JupyterLab (sets up .venv on first use)"
	@echo "make test      run every test and every notebook in fast mode"
	@echo "make test BACKEND=jax   the same on Keras's JAX backend (or torch; installs it on first use)"
	@echo "make test-colab  the same suite on Colab's versions (release/colab_stack.toml), in .venv-colab"
	@echo "make lint      ruff on the code, nbqa+ruff on the notebooks"
	@echo "make executed  executed copies of all notebooks in build/executed (COURSE_FAST=1 for quick ones)"
	@echo "make prefetch DIR=path   download and verify both datasets into a folder"
	@echo "make lock      re-resolve uv.lock (newest versions) and export requirements/*.txt"
	@echo "make slides    build the instructor decks (offline reveal.js) into build/slides/"
	@echo "make site      the course website (notebooks with outputs, slides, guides, results) into build/site/"
	@echo "               fast mode by default; make site COURSE_FAST=0 for the full-mode outputs"
	@echo "make results-status  each table in results/: current, or stale against today's code"
	@echo "make results   measure every table in results/ again (hours; see results/README.md)"
	@echo "make attendee  notebooks without solutions into build/attendee/"
	@echo "make colab     refresh Colab badges/setup cells, the schedule (README table, guide, decks' last slides), slide metadata, packaged files"

# The lock is uv.lock; requirements/lab.txt (runtime + JupyterLab) and requirements/dev.txt
# (everything, tests and linters included) are exported from it with hashes, for plain pip.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; assert (3, 11) <= v <= (3, 13), "the course supports Python 3.11 to 3.13, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.lab-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(call pip_install,$(VENV)) --quiet --require-hashes -r requirements.txt
	$(call pip_install,$(VENV)) --quiet --no-deps -e .
	$(BIN)/python -m release.lab_settings --prefix $(VENV)
	@touch $@

$(VENV)/.dev-installed: requirements/dev.txt $(VENV)/.lab-installed
	$(call pip_install,$(VENV)) --quiet --require-hashes -r requirements/dev.txt
	@touch $@

# The other Keras backends, added to the same venv (Colab, too, has all three side by side).
$(VENV)/.jax-installed: requirements/jax.txt $(VENV)/.lab-installed
	$(call pip_install,$(VENV)) --quiet --require-hashes -r requirements/jax.txt
	@touch $@

$(VENV)/.torch-installed: pyproject.toml $(VENV)/.lab-installed
	$(call pip_install,$(VENV)) --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "torch==$(TORCH_VERSION)"
	@touch $@

lab: $(VENV)/.lab-installed $(BACKEND_INSTALLED)
	KERAS_BACKEND=$(BACKEND) $(BIN)/jupyter lab --port=$(PORT) $(LAB_ARGS) notebooks/

test: $(VENV)/.dev-installed $(BACKEND_INSTALLED)
	KERAS_BACKEND=$(BACKEND) COURSE_FAST=$${COURSE_FAST:-1} $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The second tested environment: Colab's exact versions (release/colab_stack.toml), the rest of
# the test tools resolved by pip around them. COLAB_PYTHON picks the interpreter (Colab: 3.13).
COLAB_PYTHON ?= $(PYTHON)
$(COLAB_VENV)/.installed: release/colab_stack.toml pyproject.toml
	$(COLAB_PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m release.colab_stack constraints > $(COLAB_VENV)/colab-constraints.txt
	$(call pip_install,$(COLAB_VENV)) --quiet -c $(COLAB_VENV)/colab-constraints.txt -e '.[dev]'
	$(COLAB_VENV)/bin/python -m release.colab_stack check
	$(COLAB_VENV)/bin/python -m release.lab_settings --prefix $(COLAB_VENV)
	@touch $@

test-colab: $(COLAB_VENV)/.installed
	COURSE_FAST=$${COURSE_FAST:-1} $(COLAB_VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/nbqa ruff notebooks/

executed: $(VENV)/.lab-installed
	$(BIN)/python -m course_lib.runner --out build/executed notebooks/*.ipynb

prefetch: $(VENV)/.lab-installed
	@test -n "$(DIR)" || { echo "usage: make prefetch DIR=path/to/folder"; exit 2; }
	$(BIN)/python -m course_lib.data prefetch --to "$(DIR)"

# Re-resolve the universal lock for Python 3.11-3.13 and export the pip files (needs the index).
lock: $(VENV)/.dev-installed
	$(BIN)/uv lock --upgrade
	$(BIN)/python -m release.export_requirements

slides: $(VENV)/.dev-installed
	$(BIN)/python -m slides.build_slides

# The website, in the mode COURSE_FAST says (default fast, like `make test`; every page then
# says "fast-mode outputs"). Notebooks execute through build/site-cache/<mode>/: only changed
# notebooks run again (every one after a change to course_lib). Full mode: make site
# COURSE_FAST=0 (about two hours on 2 CPU cores).
site: $(VENV)/.dev-installed
	COURSE_FAST=$${COURSE_FAST:-1} $(BIN)/python -m website.build_site

# The measured tables in results/ (results/README.md lists them). results-status needs only
# Python; results runs every benchmark in full mode, one after the other (hours on 2 CPU
# cores). reproduce_mnist.py and cnn_speed.py exit 1 when a target is missed: `-` goes on.
MNIST_OTHER_BACKENDS := --only sigmoid --only tanh --only relu --only cnn
results-status:
	$(PYTHON) benchmarks/provenance.py status

results: $(VENV)/.dev-installed $(VENV)/.jax-installed $(VENV)/.torch-installed
	-COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/reproduce_mnist.py
	-COURSE_FAST=0 KERAS_BACKEND=jax $(BIN)/python benchmarks/reproduce_mnist.py $(MNIST_OTHER_BACKENDS)
	-COURSE_FAST=0 KERAS_BACKEND=torch $(BIN)/python benchmarks/reproduce_mnist.py $(MNIST_OTHER_BACKENDS)
	-COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/cnn_speed.py --seeds 42 43 44
	COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/gpu_vs_cpu.py
	COURSE_FAST=0 $(BIN)/python benchmarks/backends.py
	COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/selfscaling_reproduce.py --seeds 42 43 44
	COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/selfscaling_speed.py
	COURSE_FAST=0 KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/notebook_runs.py --mode full
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/notebook_runs.py --mode fast
	KERAS_BACKEND=jax $(BIN)/python benchmarks/notebook_runs.py --mode fast notebooks/06_convolutional_networks.ipynb
	KERAS_BACKEND=torch $(BIN)/python benchmarks/notebook_runs.py --mode fast notebooks/06_convolutional_networks.ipynb
	$(BIN)/python benchmarks/startup.py
	KERAS_BACKEND=tensorflow $(BIN)/python benchmarks/roomcheck.py
	$(BIN)/python benchmarks/provenance.py status

attendee: $(VENV)/.dev-installed
	$(BIN)/python -m release.make_attendee

colab: $(VENV)/.lab-installed
	$(BIN)/python -m release.colab
	$(BIN)/python -m release.schedule
	$(BIN)/python -m slides.slide_metadata
	$(BIN)/python -m release.package_files

clean:
	rm -rf build
