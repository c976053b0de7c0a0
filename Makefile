# The two quick-start commands: `make demo` and `make test` (see README.md).
SWIFT ?= swift
PYTHON ?= python3
# The virtual environment `make test` runs the Python package's tests in.
VENV ?= .venv
PREFIX ?= /usr/local

.PHONY: deps build demo test python-test python-env wheel wheel-test wheel-chroot-test install bench bench-features bench-scale bench-shards bench-build bench-kmeans clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) run -c release quadcat demo

# Builds once (swift test builds the release binary too), tests the Swift modules, then the Python
# package installed into $(VENV) around that same binary, then the wheel in a fresh venv (its static
# binary is a second build, in .build-wheel: a few minutes the first time).
test: deps
	@./scripts/install-deps.sh --test
	$(SWIFT) test -c release
	$(MAKE) python-test
	$(MAKE) wheel-test

python-test: python-env
	$(VENV)/bin/pytest -q -rs python/tests examples/test_example.py

# The Python package, installed into $(VENV) around the binary built last, with what its tests use.
python-env: deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check numpy datasets pandas pytest ray torch transformers peft accelerate tqdm sentence-transformers
	QUADCAT_BUNDLE_BINARY=$(CURDIR)/.build/release/quadcat $(VENV)/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python

# dist/quadcat-VERSION-py3-none-manylinux_*.whl: the release binary with the Swift runtime linked
# statically and its C libraries bundled by auditwheel; pip installs it without Swift or apt
# (scripts/build-wheel.sh says how).
wheel: deps
	SWIFT=$(SWIFT) PYTHON=$(PYTHON) ./scripts/build-wheel.sh

# The wheel installed into a fresh venv and run with PATH and LD_LIBRARY_PATH stripped of the
# toolchain and the build tree (python/tests/test_wheel.py). Needs only numpy and pytest in $(VENV), so
# it runs from a clean clone too.
wheel-test: wheel
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check numpy pytest
	QUADCAT_WHEEL="$$(ls dist/quadcat-$$(cat VERSION)-*.whl)" PYTHONPATH=$(CURDIR)/python $(VENV)/bin/pytest -q -rs python/tests/test_wheel.py

# The wheel in a Debian 12 root with Python alone, entered with chroot (root needed; the first run makes
# the root with debootstrap: network to a Debian mirror, about 5 minutes). Not part of `make test`.
wheel-chroot-test: wheel
	./scripts/test-wheel-chroot.sh

# The binary to $(PREFIX)/bin (default /usr/local/bin), so the commands `quadcat demo` prints work.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 .build/release/quadcat $(DESTDIR)$(PREFIX)/bin/quadcat

bench: deps
	$(SWIFT) build -c release
	.build/release/quadcat-bench

# Per-example projected gradients side by side on one small model (BENCHMARKS.md): the floor (forward +
# backward), quadcat features (sparse and dense projection, hooks and the batch-1 loop), LESS's loop,
# and bergson (pip install bergson, in its own venv $(BERGSON_VENV): it pins its own torch).
BERGSON_VENV ?= .venv-bergson
bench-features: build python-env
	test -x $(BERGSON_VENV)/bin/python || ($(PYTHON) -m venv $(BERGSON_VENV) && $(BERGSON_VENV)/bin/python -m pip install -q --disable-pip-version-check bergson)
	$(VENV)/bin/python bench/features_bench.py --work $(WORK)/features --bergson-python $(BERGSON_VENV)/bin/python $(ARGS)

# The end-to-end LESS example (examples/less_pipeline.py): a small GPT-2 trained from scratch on realbench's
# corpus, warmup -> features -> LESS, LESS --dedup, GTP, DPP, Quad and random 5% subsets -> a short
# fine-tune on each -> the held-out target loss, 3 seeds; results in $(WORK)/example/results.md and
# report.html. Under 20 minutes on 2 CPU cores; ARGS="--quick" for the test size, "--help" for the rest.
.PHONY: example
example: build python-env
	$(VENV)/bin/python examples/less_pipeline.py --work $(WORK)/example $(ARGS)

# Every selector at the LESS paper's pool size (270,000 x 8,192 x 4 checkpoints, about 18 GB of disk
# in $(WORK) per pool) on a family of three generated pools (reference, hard, diffuse: BENCHMARKS.md);
# ARGS="--pools hard --runs gtp@5%,spice@0.5% --time-limit 600 --drop" picks pools and runs, stops
# long runs, and keeps one pool on disk at a time; "--rows N --dim D --checkpoints C" resizes.
WORK ?= $(CURDIR)/bench/out
bench-scale: deps
	$(SWIFT) build -c release
	.build/release/quadcat-bench scale --work $(WORK) $(ARGS)

# The same pool as a set of $(SHARDS) shards, every selector run with each step a task on a local Ray
# (2 CPUs), with the bytes moved and a projection to 10^8 rows; pool size with POOL="--rows N ...".
SHARDS ?= 8
bench-shards: deps
	$(SWIFT) build -c release
	$(MAKE) python-env
	mkdir -p $(WORK)
	.build/release/quadcat-bench shards-build --work $(WORK) --shards $(SHARDS) $(POOL) | tee $(WORK)/shards.log
	$(VENV)/bin/python bench/shards_bench.py "$$(tail -n 1 $(WORK)/shards.log)" $(ARGS)

# A shard set built by the engine (quadcat.ray.build, one Ray task per shard) against the same shards
# built one at a time: 32 JSONL shards, 64,000 rows by default (ARGS="--rows N --shards S ...").
bench-build: build python-env
	mkdir -p $(WORK)
	$(VENV)/bin/python bench/build_bench.py $(WORK) $(ARGS)

# Quad's k-means beside faiss.Kmeans on the same float16 embeddings and sample (BENCHMARKS.md, issue 23);
# size with ARGS="--rows N --clusters K --sample S --iterations I".
bench-kmeans: deps
	$(SWIFT) build -c release
	test -x .venv-kmeans/bin/python || $(PYTHON) -m venv .venv-kmeans
	.venv-kmeans/bin/python -m pip install -q --disable-pip-version-check numpy faiss-cpu
	mkdir -p $(WORK)
	.build/release/quadcat-bench kmeans --work $(WORK) $(ARGS) | tee $(WORK)/kmeans.log
	.venv-kmeans/bin/python bench/kmeans_faiss.py "$$(tail -n 1 $(WORK)/kmeans.log)"

clean:
	rm -rf .build .build-wheel $(VENV) .venv-wheel dist python/build python/quadcat.egg-info
