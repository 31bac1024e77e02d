# Two commands set up and run the main job:  make setup && make demo
# One more runs the tests:                   make test
PYTHON311 ?= python3.11
PYTHON310 ?= $(shell command -v python3.10 2>/dev/null || ls $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 2>/dev/null | head -n 1)
VENV := .venv
VENV310 := .venv310
PY := $(VENV)/bin/python
export MKL_DEBUG_CPU_TYPE ?= 5

.PHONY: setup demo test bench clean

setup:
	$(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	$(PY) tools/check_env.py
	@if [ -n "$(PYTHON310)" ]; then \
		$(PYTHON310) -m venv $(VENV310) && \
		$(VENV310)/bin/python -m pip install -q --upgrade pip && \
		$(VENV310)/bin/python -m pip install -r requirements-fastdeploy.txt; \
	else echo "No Python 3.10 found: FastDeploy and Paddle Lite (cp310 wheels only) are not installed."; fi

# The whole pipeline on a small generated sample; `make demo FER2013=path` runs it on real FER2013.
demo:
	$(PY) tools/demo.py $(if $(FER2013),--fer2013 $(FER2013))

test:
	$(PY) -m pytest

bench:
	$(PY) tools/benchmark.py

clean:
	rm -rf output dataset/demo
