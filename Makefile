# Tweedie — the two newcomer commands are `make demo` and `make test` (see README).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup setup-python build demo test notebooks notebook-smoke clean

setup:
	@bash scripts/setup.sh

build: setup
	swift build -c release

# The main job on the bundled default: the bundled galaxy prior on the bundled HSC-like
# observation (Priors/Models/galaxy-gri-64/demo/); outputs in demo-output/ (replaced).
demo: build
	rm -rf demo-output
	.build/release/tweedie demo -o demo-output

# The Swift suite, then the smallest study notebook end to end through the release CLI.
# About ten tests read the real data in ../shared/data (M51, VLA 3C273 visibilities, antenna
# layouts): the clone must sit beside the project's shared/ directory.
test: setup
	@[ -d ../shared/data ] || { echo "make test: ../shared/data not found beside this clone; the tests that read the real M51 and VLA 3C273 data need it (clone next to shared/)" >&2; exit 1; }
	swift build --build-tests
	swift test --skip-build
	$(MAKE) notebook-smoke

setup-python:
	@bash scripts/setup-python.sh

# Every study notebook at its small scale (executed copies in Notebooks/work/executed/).
NOTEBOOKS := $(wildcard Notebooks/*.ipynb)
notebooks: build setup-python
	@mkdir -p Notebooks/work/executed
	cd Notebooks && for nb in $(notdir $(NOTEBOOKS)); do \
	  echo "notebook $$nb"; \
	  python3 -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
	    --output-dir work/executed "$$nb" || exit 1; \
	done

notebook-smoke: build setup-python
	@mkdir -p Notebooks/work/executed
	cd Notebooks && python3 -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
	  --output-dir work/executed redshift_sweep.ipynb

clean:
	rm -rf .build
