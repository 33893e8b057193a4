# Finds edgeclr's dependencies, all from Debian packages (also what Raspberry Pi OS
# ships). A missing one stops the configure step with the package that provides it.

function(edgeclr_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "edgeclr: ${what} not found; install the Debian package '${package}' "
                        "(scripts/install-deps does it for you)")
  endif()
endfunction()

# XNNPACK, pthreadpool: Debian ships no CMake package for them.
find_path(XNNPACK_INCLUDE_DIR xnnpack.h)
find_library(XNNPACK_LIBRARY NAMES XNNPACK xnnpack)
edgeclr_require(XNNPACK_LIBRARY "XNNPACK (libXNNPACK.so)" libxnnpack-dev)
edgeclr_require(XNNPACK_INCLUDE_DIR "XNNPACK (xnnpack.h)" libxnnpack-dev)
find_path(PTHREADPOOL_INCLUDE_DIR pthreadpool.h)
find_library(PTHREADPOOL_LIBRARY pthreadpool)
edgeclr_require(PTHREADPOOL_LIBRARY "pthreadpool" libpthreadpool-dev)
# Debian 12's cpuinfo CMake package points at a wrong path (/usr/lib/lib/...), so find
# the library directly.
find_path(CPUINFO_INCLUDE_DIR cpuinfo.h)
find_library(CPUINFO_LIBRARY cpuinfo)
edgeclr_require(CPUINFO_LIBRARY "cpuinfo" libcpuinfo-dev)
find_package(Threads REQUIRED)
include(EdgeclrXnnpackApi)

if(NOT TARGET edgeclr::xnnpack)
  add_library(edgeclr::xnnpack UNKNOWN IMPORTED)
  set_target_properties(edgeclr::xnnpack PROPERTIES
    IMPORTED_LOCATION "${XNNPACK_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${XNNPACK_INCLUDE_DIR}")
  add_library(edgeclr::pthreadpool UNKNOWN IMPORTED)
  set_target_properties(edgeclr::pthreadpool PROPERTIES
    IMPORTED_LOCATION "${PTHREADPOOL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PTHREADPOOL_INCLUDE_DIR}")
  add_library(edgeclr::cpuinfo UNKNOWN IMPORTED)
  set_target_properties(edgeclr::cpuinfo PROPERTIES
    IMPORTED_LOCATION "${CPUINFO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CPUINFO_INCLUDE_DIR}")
endif()

# FlatBuffers: header-only use in the runtime; flatc generates the schema header.
find_package(FlatBuffers CONFIG QUIET)
edgeclr_require(FlatBuffers_FOUND "FlatBuffers" libflatbuffers-dev)
find_program(FLATC_EXECUTABLE flatc)
edgeclr_require(FLATC_EXECUTABLE "flatc" flatbuffers-compiler)
find_path(FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h)

# JPEG: libjpeg-turbo's libjpeg API (DCT-domain scaling, progressive, CMYK).
# jconfig.h is per architecture (Debian: /usr/include/<triple>/), which a cross compiler
# does not search in a sysroot on its own.
find_path(JPEG_TURBO_INCLUDE_DIR jpeglib.h)
find_path(JPEG_TURBO_CONFIG_DIR jconfig.h PATH_SUFFIXES "${CMAKE_LIBRARY_ARCHITECTURE}")
find_library(JPEG_TURBO_LIBRARY NAMES jpeg)
edgeclr_require(JPEG_TURBO_INCLUDE_DIR "jpeglib.h (libjpeg-turbo)" libjpeg62-turbo-dev)
edgeclr_require(JPEG_TURBO_CONFIG_DIR "jconfig.h (libjpeg-turbo)" libjpeg62-turbo-dev)
edgeclr_require(JPEG_TURBO_LIBRARY "libjpeg.so (libjpeg-turbo)" libjpeg62-turbo-dev)
if(NOT TARGET edgeclr::jpeg)
  add_library(edgeclr::jpeg UNKNOWN IMPORTED)
  set_target_properties(edgeclr::jpeg PROPERTIES
    IMPORTED_LOCATION "${JPEG_TURBO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${JPEG_TURBO_INCLUDE_DIR};${JPEG_TURBO_CONFIG_DIR}")
endif()

# SQLite: the gallery store, for libedgeclr.so (not libedgeclr_core.so). Debian and
# Raspberry Pi OS ship it; iOS has it as a system library; the Android NDK does not
# expose one, so an Android build bundles SQLite's amalgamation (not done here).
find_path(SQLITE_INCLUDE_DIR sqlite3.h)
find_library(SQLITE_LIBRARY NAMES sqlite3)
edgeclr_require(SQLITE_INCLUDE_DIR "sqlite3.h" libsqlite3-dev)
edgeclr_require(SQLITE_LIBRARY "libsqlite3.so" libsqlite3-dev)
if(NOT TARGET edgeclr::sqlite)
  add_library(edgeclr::sqlite UNKNOWN IMPORTED)
  set_target_properties(edgeclr::sqlite PROPERTIES
    IMPORTED_LOCATION "${SQLITE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SQLITE_INCLUDE_DIR}")
endif()

# hnswlib (header-only): the galleries' approximate search. Its headers are included by
# one file (runtime/src/gallery/hnsw_graph.cpp).
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h)
edgeclr_require(HNSWLIB_INCLUDE_DIR "hnswlib/hnswlib.h" libhnswlib-dev)

# xxHash: XXH3, the checksum of model files; compiled in from the header (XXH_INLINE_ALL
# in runtime/src/core/content_hash.cpp), so nothing to link.
find_path(XXHASH_INCLUDE_DIR xxhash.h)
edgeclr_require(XXHASH_INCLUDE_DIR "xxhash.h" libxxhash-dev)

# stb: compiled into edgeclr from the header (no link dependency on libstb).
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
edgeclr_require(STB_INCLUDE_DIR "stb_image.h" libstb-dev)

# The converter (host tools only): ONNX's protobuf classes and shape inference.
if(EDGECLR_BUILD_CONVERTER AND (EDGECLR_BUILD_TOOLS OR EDGECLR_BUILD_TESTS))
  find_package(Protobuf QUIET)
  edgeclr_require(Protobuf_FOUND "protobuf" libprotobuf-dev)
  find_package(ONNX CONFIG QUIET)
  edgeclr_require(ONNX_FOUND "ONNX" libonnx-dev)
  # Debian 12's ONNX package names its targets onnx and onnx_proto, Debian 13's
  # ONNX::onnx and ONNX::onnx_proto (both define ONNX_ML=1, which the headers need).
  if(NOT TARGET edgeclr::onnx)
    add_library(edgeclr::onnx INTERFACE IMPORTED)
    add_library(edgeclr::onnx_proto INTERFACE IMPORTED)
    if(TARGET ONNX::onnx)
      set_target_properties(edgeclr::onnx PROPERTIES INTERFACE_LINK_LIBRARIES ONNX::onnx)
      set_target_properties(edgeclr::onnx_proto PROPERTIES INTERFACE_LINK_LIBRARIES ONNX::onnx_proto)
    else()
      set_target_properties(edgeclr::onnx PROPERTIES INTERFACE_LINK_LIBRARIES onnx)
      set_target_properties(edgeclr::onnx_proto PROPERTIES INTERFACE_LINK_LIBRARIES onnx_proto)
    endif()
  endif()
endif()

if(EDGECLR_BUILD_TESTS)
  find_package(doctest CONFIG QUIET)
  edgeclr_require(doctest_FOUND "doctest" doctest-dev)
endif()
