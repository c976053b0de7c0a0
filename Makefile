# The two quick-start commands: `make demo` and `make test` (see README.md).
SWIFT ?= swift

.PHONY: deps build demo test bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) run -c release quadcat demo

test: deps
	@./scripts/install-deps.sh --test
	$(SWIFT) test -c release

bench: deps
	$(SWIFT) build -c release
	.build/release/quadcat-bench

clean:
	rm -rf .build
