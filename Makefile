# Tweedie — the two newcomer commands are `make demo` and `make test` (see README).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build demo test clean

setup:
	@bash scripts/setup.sh

build: setup
	swift build -c release

# The main job on the bundled default: the bundled galaxy prior on the bundled HSC-like
# observation (Priors/Models/galaxy-gri-64/demo/); outputs in demo-output/ (replaced).
demo: build
	rm -rf demo-output
	.build/release/tweedie demo -o demo-output

test: setup
	swift build --build-tests
	swift test --skip-build

clean:
	rm -rf .build
