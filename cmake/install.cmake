# What `cmake --install build --prefix P` puts under P:
#   bin/onnxc                                  the compiler
#   lib/libonnxc_rt.a                          the runtime (thread pool, tensor files, main)
#   include/onnxc/onnxc_rt.h, onnxc_abi.h      its public headers
#   lib/cmake/onnxc/onnxcConfig.cmake (+Version, Targets, onnxcAddModel.cmake)
#                                              find_package(onnxc CONFIG): onnxc::onnxc,
#                                              onnxc::rt and onnxc_add_model()
#   lib/pkgconfig/onnxc.pc                     pkg-config --cflags --libs onnxc
# Everything refers to the prefix relatively, so an installed tree can be moved.
include(CMakePackageConfigHelpers)

set(ONNXC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/onnxc)

install(TARGETS onnxc EXPORT onnxcTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS onnxc_rt EXPORT onnxcTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/runtime/onnxc_rt.h ${CMAKE_SOURCE_DIR}/runtime/onnxc_abi.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/onnxc)
install(EXPORT onnxcTargets NAMESPACE onnxc:: DESTINATION ${ONNXC_CMAKE_DIR})

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/onnxcConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/onnxcConfig.cmake
  INSTALL_DESTINATION ${ONNXC_CMAKE_DIR})
# The generated code's ABI (runtime/onnxc_abi.h) is what must match: same major.minor.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/onnxcConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/onnxcConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/onnxcConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/cmake/onnxcAddModel.cmake
        DESTINATION ${ONNXC_CMAKE_DIR})

# pkg-config: ${pcfiledir} keeps the prefix relative to the .pc file itself.
file(RELATIVE_PATH ONNXC_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${CMAKE_SOURCE_DIR}/cmake/onnxc.pc.in ${CMAKE_BINARY_DIR}/cmake/onnxc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/cmake/onnxc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
