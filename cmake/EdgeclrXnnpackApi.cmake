# Which XNNPACK generation edgeclr builds against, decided once at configure time:
#   2022  Debian 12 (0.0~git20220216): static shapes, xnn_setup_runtime only
#   2024  Debian 13 (0.0~git20241108 and later): xnn_reshape_runtime, per-channel int8
#         fully connected, int8 unary operators, transpose, concatenate, slice
# The answer is the API the header declares (xnn_reshape_runtime), not the date, so a
# distribution's other snapshots sort themselves. The date, when the Debian changelog
# next to the headers names one, only labels the build (`edgeclr --version`).
#
# Sets EDGECLR_XNNPACK_API (2022 or 2024) and EDGECLR_XNNPACK_LABEL, e.g. "2024-11-08 (2024 API)".
include(CheckCXXSourceCompiles)

function(edgeclr_detect_xnnpack_api)
  set(CMAKE_REQUIRED_INCLUDES "${XNNPACK_INCLUDE_DIR}" "${PTHREADPOOL_INCLUDE_DIR}")
  set(CMAKE_REQUIRED_QUIET ON)
  # Compiled only, never linked: a cross build's try_compile cannot run or link the target.
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  check_cxx_source_compiles([=[
    #include <xnnpack.h>
    auto probe = &xnn_reshape_runtime;
    int main() { return probe != nullptr ? 0 : 1; }
  ]=] EDGECLR_XNNPACK_HAS_RESHAPE)
  if(EDGECLR_XNNPACK_HAS_RESHAPE)
    set(api 2024)
  else()
    set(api 2022)
  endif()

  # Debian's snapshot date: "xnnpack (0.0~git20241108.4ea82e5-1) ..." on the changelog's first line.
  set(date "")
  get_filename_component(prefix "${XNNPACK_INCLUDE_DIR}" DIRECTORY)
  set(changelog "${prefix}/share/doc/libxnnpack-dev/changelog.Debian.gz")
  if(EXISTS "${changelog}")
    execute_process(COMMAND gzip -dc "${changelog}" OUTPUT_VARIABLE text ERROR_QUIET)
    if(text MATCHES "git(20[0-9][0-9])([01][0-9])([0-3][0-9])")
      set(date "${CMAKE_MATCH_1}-${CMAKE_MATCH_2}-${CMAKE_MATCH_3} ")
    endif()
  endif()
  set(EDGECLR_XNNPACK_API ${api} PARENT_SCOPE)
  set(EDGECLR_XNNPACK_LABEL "${date}(${api} API)" PARENT_SCOPE)
  message(STATUS "edgeclr: XNNPACK ${date}(${api} API) in ${XNNPACK_INCLUDE_DIR}")
endfunction()

edgeclr_detect_xnnpack_api()
