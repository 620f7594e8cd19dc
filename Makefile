# The README's two commands: `make demo` (the main job on a local default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

demo: $(STAMP)
	@# The example repo has planted problems, so the gate must exit 1 here; anything else is a bug.
	@$(BIN)/auditor gate examples/platform-repo -f console -f json -f sarif -f junit \
	  --output-dir reports; status=$$?; \
	  if [ $$status -eq 1 ]; then echo "demo: gate exited 1 on the planted problems, as expected; reports in reports/"; \
	  else echo "demo: unexpected exit code $$status"; exit 1; fi

test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check auditor tests benchmarks
	$(BIN)/mypy auditor

bench: $(STAMP)
	$(BIN)/python benchmarks/classifier.py
	$(BIN)/python benchmarks/gate.py

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
