# The two commands of the quick start: `make up` runs omniroute, `make test` tests it.
.PHONY: up test unit bootstrap lint

bootstrap:
	@deploy/bootstrap.sh

up: bootstrap
	.venv/bin/omniroute up

test: bootstrap
	.venv/bin/python -m pytest

unit: bootstrap
	.venv/bin/python -m pytest -m unit

lint: bootstrap
	.venv/bin/ruff check src connectors tests bench
	.venv/bin/mypy
