# Raspberry Pi 2, 3, 4 and 5 with a 32-bit Debian armhf OS.
#   scripts/pi-sysroot armhf
#   cmake -S . -B build/pi32 -DCMAKE_TOOLCHAIN_FILE=platforms/raspberrypi-armhf.cmake
# or simply: make test-pi32. Code generation is Debian armhf's baseline (ARMv7-A, VFPv3-D16,
# Thumb-2), so the binaries do not run on ARMv6 boards (Pi 1, Zero, Zero W); XNNPACK picks
# its NEON kernels at run time.
set(EDGECLR_PI_ARCH armhf)
set(EDGECLR_PI_TRIPLE arm-linux-gnueabihf)
set(EDGECLR_PI_PROCESSOR armv7l)
set(EDGECLR_PI_QEMU qemu-arm-static)
include("${CMAKE_CURRENT_LIST_DIR}/raspberrypi-common.cmake")
