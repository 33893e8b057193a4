# The two commands of the README, and the steps they are made of.
#   make demo   build, then show what edgeclr does on the shipped models
#   make test   build, run the whole suite, then again under ASan + UBSan, then the
#               Raspberry Pi aarch64 cross build's suite under qemu (make test-pi64)
# Both install missing Debian packages first (scripts/install-deps).

MAKEFLAGS  += --no-print-directory

BUILD      ?= build
SANITIZE   ?= build/sanitize
JOBS       ?= $(shell nproc)
# CI builds treat warnings as errors.
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps build build-sanitize test test-fast test-sanitize demo clean
.PHONY: build-pi64 build-pi32 test-pi64 test-pi32

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

# Raspberry Pi cross builds (platforms/): scripts/pi-sysroot installs the cross compiler and
# qemu and makes the sysroot; ctest runs the suite under qemu-user.
PI_ARCH_pi64 := aarch64
PI_ARCH_pi32 := armhf

build-pi64 build-pi32: build-pi%:
	scripts/pi-sysroot $(PI_ARCH_pi$*)
	cmake -S . -B $(BUILD)/pi$* -DCMAKE_TOOLCHAIN_FILE=platforms/raspberrypi-$(PI_ARCH_pi$*).cmake \
	      -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON
	cmake --build $(BUILD)/pi$* -j$(JOBS)

test-pi64 test-pi32: test-pi%: build-pi%
	ctest --test-dir $(BUILD)/pi$* --output-on-failure -j$(JOBS)

test: test-fast test-sanitize test-pi64

demo: build
	@scripts/demo $(BUILD)

clean:
	rm -rf $(BUILD)
