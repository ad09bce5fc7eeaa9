# incus-ai: see README.md. Every target installs what it needs (scripts/setup.sh).
CARGO ?= cargo
BIN   := target/release/incus-ai
# The site's own notes folder, indexed as the `local` collection (none by default: the local
# collection holds only what is the admin's: their notes, the installation snapshot).
NOTES ?=

.PHONY: setup build build-all run lint test test-unprivileged eval bench clean

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release --locked

# The binary and the examples in one build: the examples' dev-dependencies turn on more
# features of shared crates (libc, tokio), so building them apart compiles the tree twice.
build-all:
	$(CARGO) build --release --locked --bins --examples

# The main job: mirror the docs (the site, or the installed package's docs when it is
# unreachable) and the notes, update the index, export the AIChat knowledge bases (AIChat's
# own embedding model, else the local one), and leave `incus-ai serve` answering for AIChat.
run: setup build
	bash scripts/run.sh $(BIN) $(NOTES)

# fmt check, clippy with warnings denied (examples included), the import rules.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	bash scripts/check-layout.sh

# All tests, unit and integration, the live-cluster tests included (they need root). The
# examples are not built here (`make lint` checks them, `make eval` and `make bench` run them).
# Release builds: the dependencies are then compiled once for the tests, `make eval` and
# `make bench` (the model's and the index's crates are optimised in every profile anyway).
# Without root: `make test-unprivileged`.
test: setup
	$(CARGO) test --release --locked --lib --bins --tests -- --include-ignored

# Every test but the live cluster ones (no root needed).
test-unprivileged:
	$(CARGO) test --release --locked --lib --bins --tests

# Retrieval quality on ../shared/eval/dev.jsonl (fails below the targets).
eval: build-all
	$(CARGO) run --release --locked --example eval

# Speed and memory on this machine.
bench: build-all
	$(CARGO) run --release --locked --example bench
	$(CARGO) run --release --locked --example bench_parsers

clean:
	$(CARGO) clean
