# `cmake --install`: the shared library (the C API is its only export), the two public
# headers, the CLI, a CMake package (find_package(edgeclr) gives edgeclr::edgeclr) and a
# pkg-config file. Both package files are relocatable: they find the prefix from where
# they are installed, so `cmake --install BUILD --prefix DIR` works for any DIR.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(edgeclr PROPERTIES EXPORT_NAME edgeclr)
install(TARGETS edgeclr edgeclr_core EXPORT edgeclrTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES runtime/include/edgeclr/edgeclr.h runtime/include/edgeclr/edgeclr.hpp
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/edgeclr")
if(TARGET edgeclr_cli)
  install(TARGETS edgeclr_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()

set(EDGECLR_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/edgeclr")
install(EXPORT edgeclrTargets NAMESPACE edgeclr:: DESTINATION "${EDGECLR_CMAKE_DIR}")
configure_package_config_file(cmake/edgeclrConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/edgeclrConfig.cmake"
  INSTALL_DESTINATION "${EDGECLR_CMAKE_DIR}")
# 0.x: a minor version may break the C API, so only the same minor version matches.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/edgeclrConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/edgeclrConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/edgeclrConfigVersion.cmake"
        DESTINATION "${EDGECLR_CMAKE_DIR}")

# pkg-config: the prefix is ${pcfiledir} climbed back up from <libdir>/pkgconfig.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "edgeclr: CMAKE_INSTALL_LIBDIR must be relative to the prefix, not ${CMAKE_INSTALL_LIBDIR}")
endif()
file(RELATIVE_PATH EDGECLR_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" EDGECLR_PC_TO_PREFIX "${EDGECLR_PC_TO_PREFIX}")
configure_file(cmake/edgeclr.pc.in "${CMAKE_CURRENT_BINARY_DIR}/edgeclr.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/edgeclr.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
