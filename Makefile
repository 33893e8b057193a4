# The two commands of the README, and the steps they are made of.
#   make demo   build, then show what edgeclr does on the shipped models
#   make test   build, run the whole suite, then again under ASan + UBSan
# Both install missing Debian packages first (scripts/install-deps).

MAKEFLAGS  += --no-print-directory

BUILD      ?= build
SANITIZE   ?= build/sanitize
JOBS       ?= $(shell nproc)
# CI builds treat warnings as errors.
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps build build-sanitize test test-fast test-sanitize demo clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

build-sanitize: deps
	cmake -S . -B $(SANITIZE) -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON -DEDGECLR_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(SANITIZE) -j$(JOBS)

# The suite on the normal build only.
test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-sanitize: build-sanitize
	ctest --test-dir $(SANITIZE) --output-on-failure -j$(JOBS)

test: test-fast test-sanitize

demo: build
	@scripts/demo $(BUILD)

clean:
	rm -rf $(BUILD)
