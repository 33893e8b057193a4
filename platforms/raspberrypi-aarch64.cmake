# Raspberry Pi 3, 4 and 5 with a 64-bit OS (Raspberry Pi OS 64-bit, Debian arm64).
#   scripts/pi-sysroot aarch64
#   cmake -S . -B build/pi64 -DCMAKE_TOOLCHAIN_FILE=platforms/raspberrypi-aarch64.cmake
# or simply: make test-pi64. Code generation is Debian arm64's baseline (ARMv8-A);
# XNNPACK picks its kernels (NEON, dot-product where the core has it) at run time.
set(EDGECLR_PI_ARCH aarch64)
set(EDGECLR_PI_TRIPLE aarch64-linux-gnu)
set(EDGECLR_PI_PROCESSOR aarch64)
set(EDGECLR_PI_QEMU qemu-aarch64-static)
include("${CMAKE_CURRENT_LIST_DIR}/raspberrypi-common.cmake")
