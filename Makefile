# Tweedie — the two newcomer commands are `make demo` and `make test` (see README).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build demo test clean

setup:
	@bash scripts/setup.sh

build: setup
	swift build -c release

# The main job on the bundled default (arrives with the DPS engine).
demo: build
	@echo 'tweedie demo arrives with the DPS engine; the release build is in .build/release/tweedie'

test: setup
	swift build --build-tests
	swift test --skip-build

clean:
	rm -rf .build
