# The two commands of the README. Each sets up everything it needs first.
.PHONY: sample test setup-build setup-test lint

sample: setup-build        ## set up, then build the sample bulletin (site/ and PDFs)
	.venv/bin/bulletin build

test: setup-test           ## set up, then run the whole test suite
	.venv/bin/pytest

setup-build:
	scripts/setup.sh build

setup-test:
	scripts/setup.sh test

lint:
	.venv/bin/ruff check bulletin tests bench
	.venv/bin/ruff format --check bulletin tests bench
