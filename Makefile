# Two commands are all a learner needs:  `make lab`  and  `make test`.
# Each creates the virtual environment in .venv and installs the course on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
PORT   ?= 8888
# Jupyter refuses to run as root unless told; containers and some clusters run as root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# Extra arguments for pytest, e.g.  make test PYTEST_ARGS="-k data -x"
PYTEST_ARGS ?=

.PHONY: lab test lint executed prefetch lock slides attendee colab clean help

help:
	@echo "make lab       open the course in JupyterLab (sets up .venv on first use)"
	@echo "make test      run every test and every notebook in fast mode"
	@echo "make lint      ruff on the code, nbqa+ruff on the notebooks"
	@echo "make executed  executed copies of all notebooks in build/executed (COURSE_FAST=1 for quick ones)"
	@echo "make prefetch DIR=path   download and verify both datasets into a folder"
	@echo "make lock      record the exact installed versions in requirements.lock"
	@echo "make slides    build the instructor decks (offline reveal.js) into build/slides/"
	@echo "make attendee  notebooks without solutions into build/attendee/"
	@echo "make colab     refresh Colab badges/setup cells, README table, slide metadata, binder pins"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10 or newer is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@touch $@

lab: $(STAMP)
	$(BIN)/jupyter lab --port=$(PORT) $(LAB_ARGS) notebooks/

test: $(STAMP)
	COURSE_FAST=$${COURSE_FAST:-1} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/nbqa ruff notebooks/

executed: $(STAMP)
	mkdir -p build/executed
	MPLBACKEND=Agg $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=1800 --output-dir build/executed notebooks/*.ipynb

prefetch: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make prefetch DIR=path/to/folder"; exit 2; }
	$(BIN)/python -m course_lib.data prefetch --to "$(DIR)"

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

slides: $(STAMP)
	$(BIN)/python tools/build_slides.py

attendee: $(STAMP)
	$(BIN)/python tools/make_attendee.py

colab: $(STAMP)
	$(BIN)/python tools/colab.py
	$(BIN)/python tools/slide_metadata.py
	cp requirements.txt binder/requirements.txt

clean:
	rm -rf build
