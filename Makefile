# The README's two commands: `make demo` (the main job on a local default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Test processes (pytest-xdist). A test file stays in one process: its engines are its own.
TEST_WORKERS ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean roles

demo: $(STAMP)
	@# The demo estate and the example repo have planted problems, so both must exit 1 here.
	@$(BIN)/auditor demo --output-dir reports; status=$$?; \
	  if [ $$status -ne 1 ]; then echo "demo: scan exited $$status, expected 1"; exit 1; fi
	@$(BIN)/auditor gate examples/platform-repo -f console -f json -f sarif -f junit \
	  --output-dir reports > /dev/null; status=$$?; \
	  if [ $$status -ne 1 ]; then echo "demo: gate exited $$status, expected 1"; exit 1; fi
	@echo "demo: the planted violations were found (exit 1 expected); reports in reports/"

test: $(STAMP) lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check auditor tests benchmarks
	$(BIN)/mypy auditor

bench: $(STAMP)
	$(BIN)/python benchmarks/classifier.py
	$(BIN)/python benchmarks/values.py
	$(BIN)/python benchmarks/gate.py
	$(BIN)/python benchmarks/html_report.py
	$(BIN)/python benchmarks/live_scan.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/load.py

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The role catalog, regenerated from reference/iam/ (Google's predefined roles, with date).
roles: $(STAMP)
	$(BIN)/python -m auditor.access.catalog

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
