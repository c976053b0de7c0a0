# The two quick-start commands: `make demo` and `make test` (see README.md).
SWIFT ?= swift
PYTHON ?= python3
# The virtual environment `make test` runs the Python package's tests in.
VENV ?= .venv
PREFIX ?= /usr/local

.PHONY: deps build demo test python-test install bench bench-scale clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) run -c release quadcat demo

# Builds once (swift test builds the release binary too), tests the Swift modules, then the Python
# package installed into $(VENV) around that same binary.
test: deps
	@./scripts/install-deps.sh --test
	$(SWIFT) test -c release
	$(MAKE) python-test

python-test: deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check numpy datasets pandas pytest ray
	QUADCAT_BUNDLE_BINARY=$(CURDIR)/.build/release/quadcat $(VENV)/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python
	$(VENV)/bin/pytest -q -rs python/tests

# The binary to $(PREFIX)/bin (default /usr/local/bin), so the commands `quadcat demo` prints work.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 .build/release/quadcat $(DESTDIR)$(PREFIX)/bin/quadcat

bench: deps
	$(SWIFT) build -c release
	.build/release/quadcat-bench

# Every selector at the LESS paper's pool size (270,000 x 8,192 x 4 checkpoints, about 18 GB of disk
# in $(WORK)); smaller or larger with ARGS="--rows N --dim D --checkpoints C". See BENCHMARKS.md.
WORK ?= $(CURDIR)/bench/out
bench-scale: deps
	$(SWIFT) build -c release
	.build/release/quadcat-bench scale --work $(WORK) $(ARGS)

clean:
	rm -rf .build $(VENV) python/build python/quadcat.egg-info
