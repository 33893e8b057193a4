# What the two Raspberry Pi toolchain files share. They set, before including this file:
#   EDGECLR_PI_ARCH       aarch64 | armhf (names the sysroot: build/sysroot/<arch>)
#   EDGECLR_PI_TRIPLE     the Debian cross compiler's triple (aarch64-linux-gnu, ...)
#   EDGECLR_PI_PROCESSOR  CMAKE_SYSTEM_PROCESSOR
#   EDGECLR_PI_QEMU       the qemu-user binary that runs the target's programs
#
# Compilers: Debian's cross compilers (g++-<triple>); they bring the target's libc and
# libstdc++ in /usr/<triple>. Libraries: a sysroot holding the target builds of the Debian
# packages a Pi installs (scripts/pi-sysroot makes it, unpacked with dpkg-deb, never
# installed). Nothing of the host's /usr/include or /usr/lib is used for the target.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR "${EDGECLR_PI_PROCESSOR}")
set(CMAKE_C_COMPILER "${EDGECLR_PI_TRIPLE}-gcc")
set(CMAKE_CXX_COMPILER "${EDGECLR_PI_TRIPLE}-g++")
set(CMAKE_STRIP "/usr/bin/${EDGECLR_PI_TRIPLE}-strip" CACHE FILEPATH "strip for the target")
set(CMAKE_LIBRARY_ARCHITECTURE "${EDGECLR_PI_TRIPLE}")

# The sysroot; another one (e.g. the copy of a Pi's root) may be named with
# -DEDGECLR_PI_SYSROOT=DIR. try_compile re-reads this file, so pass the choice along.
if(NOT EDGECLR_PI_SYSROOT)
  if(DEFINED ENV{EDGECLR_PI_SYSROOT})
    set(EDGECLR_PI_SYSROOT "$ENV{EDGECLR_PI_SYSROOT}")
  else()
    get_filename_component(EDGECLR_PI_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/sysroot/${EDGECLR_PI_ARCH}" ABSOLUTE)
  endif()
endif()
set(ENV{EDGECLR_PI_SYSROOT} "${EDGECLR_PI_SYSROOT}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGECLR_PI_SYSROOT)
if(NOT EXISTS "${EDGECLR_PI_SYSROOT}/usr/include/xnnpack.h")
  message(FATAL_ERROR "edgeclr: no Raspberry Pi sysroot at ${EDGECLR_PI_SYSROOT}; "
                      "make it with: scripts/pi-sysroot ${EDGECLR_PI_ARCH}")
endif()

# Libraries, headers and CMake packages from the sysroot (and the toolchain's own libc);
# programs (flatc, python3) from the host. -DCMAKE_FIND_ROOT_PATH=DIR adds a root of
# your own, e.g. where a cross-built edgeclr was installed for an app to find.
list(APPEND CMAKE_FIND_ROOT_PATH "${EDGECLR_PI_SYSROOT}" "/usr/${EDGECLR_PI_TRIPLE}")
list(REMOVE_DUPLICATES CMAKE_FIND_ROOT_PATH)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# GCC notes that passing some structs changed ABI in GCC 10.1 (-Wpsabi); everything here
# is built by one GCC 12, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")

# libXNNPACK.so needs libpthreadpool.so.0 and libcpuinfo.so.0: the linker finds them in
# the sysroot (they are not in the cross compiler's default search path).
set(_edgeclr_pi_libdirs "${EDGECLR_PI_SYSROOT}/usr/lib/${EDGECLR_PI_TRIPLE}:${EDGECLR_PI_SYSROOT}/lib/${EDGECLR_PI_TRIPLE}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_edgeclr_pi_libdirs}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_edgeclr_pi_libdirs}")

# ctest (and doctest's test discovery) run the target's programs through qemu-user:
# binfmt_misc is not mounted here, so the emulator is named. The loader and libc both come
# from the cross toolchain (-L /usr/<triple>); the sysroot adds only the libraries above,
# for the guest alone (-E), so a threaded program does not hang on a loader/libc mix.
set(CMAKE_CROSSCOMPILING_EMULATOR
    "/usr/bin/${EDGECLR_PI_QEMU}" -L "/usr/${EDGECLR_PI_TRIPLE}" -E "LD_LIBRARY_PATH=${_edgeclr_pi_libdirs}")
