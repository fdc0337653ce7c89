# The dependencies wick links against, found from Debian's packages. Used by the build and by the
# installed wickConfig.cmake, so a user's project finds exactly what wick was built with.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(TBB CONFIG)
find_dependency(ZLIB)
find_dependency(nlohmann_json CONFIG)
# wick::onnx (ONNX export): Debian's libonnx-dev, whose targets need protobuf's. Checked here by
# name: find_dependency would leave this file early, and the error would then name a missing
# wick_deps target instead.
find_package(Protobuf QUIET)
if(NOT Protobuf_FOUND)
  message(FATAL_ERROR "wick needs protobuf's headers for its ONNX export: apt-get install libprotobuf-dev")
endif()
find_dependency(ONNX CONFIG)
if(WICK_WITH_MPI)
  set(MPI_CXX_SKIP_MPICXX ON)
  find_dependency(MPI COMPONENTS CXX)
endif()
if(NOT TARGET wick_deps::openblas)
  # Debian ships OpenBLASConfig.cmake (variables only); wrap it in a target.
  find_package(OpenBLAS CONFIG QUIET)
  if(NOT OpenBLAS_FOUND)
    find_package(PkgConfig QUIET)
    if(PkgConfig_FOUND)
      pkg_check_modules(OpenBLAS QUIET openblas)
      set(OpenBLAS_LIBRARIES ${OpenBLAS_LINK_LIBRARIES})
    endif()
  endif()
  find_path(WICK_CBLAS_INCLUDE cblas.h HINTS ${OpenBLAS_INCLUDE_DIRS} NO_DEFAULT_PATH)
  if(NOT OpenBLAS_LIBRARIES OR NOT WICK_CBLAS_INCLUDE)
    message(FATAL_ERROR "wick needs OpenBLAS: apt-get install libopenblas-dev")
  endif()
  add_library(wick_deps::openblas INTERFACE IMPORTED)
  set_target_properties(wick_deps::openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${WICK_CBLAS_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
endif()
if(NOT TARGET wick_deps::stb)
  # Debian's libstb-dev: headers in /usr/include/stb and the implementations in libstb.
  find_path(WICK_STB_INCLUDE stb_image.h PATH_SUFFIXES stb)
  find_library(WICK_STB_LIB stb)
  if(NOT WICK_STB_INCLUDE OR NOT WICK_STB_LIB)
    message(FATAL_ERROR "wick needs stb_image: apt-get install libstb-dev")
  endif()
  add_library(wick_deps::stb INTERFACE IMPORTED)
  set_target_properties(wick_deps::stb PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${WICK_STB_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "${WICK_STB_LIB}")
endif()
