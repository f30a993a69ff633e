# Finds sparkbench's dependencies (all Debian 12 packages; scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(SQLite3 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# cpp-httplib (libcpp-httplib-dev): the HTTP server of `serve` and the API client of `run --api` and
# `loadgen`; Debian ships it compiled, with OpenSSL/zlib/brotli support flags that its users must
# compile with (hence pkg-config).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

# oneDNN: the CPU backend. AUTO builds it when the package is there (a GPU box may lack it).
# Found by header + library rather than dnnl-config.cmake: Debian's config also demands the
# OpenCL development files, which the CPU backend never uses.
set(SPARKBENCH_HAVE_DNNL OFF)
if(NOT SPARKBENCH_DNNL STREQUAL "OFF")
  find_path(SPARKBENCH_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp)
  find_library(SPARKBENCH_DNNL_LIB dnnl)
  if(SPARKBENCH_DNNL_INCLUDE AND SPARKBENCH_DNNL_LIB)
    add_library(sparkbench_dnnl INTERFACE)
    target_include_directories(sparkbench_dnnl INTERFACE ${SPARKBENCH_DNNL_INCLUDE})
    target_link_libraries(sparkbench_dnnl INTERFACE ${SPARKBENCH_DNNL_LIB})
    set(SPARKBENCH_HAVE_DNNL ON)
  elseif(SPARKBENCH_DNNL STREQUAL "ON")
    message(FATAL_ERROR "SPARKBENCH_DNNL=ON but oneDNN (libdnnl-dev) was not found")
  endif()
endif()

# CUDA: AUTO turns the backend on when nvcc is found (PATH or /usr/local/cuda).
set(SPARKBENCH_HAVE_CUDA OFF)
if(NOT SPARKBENCH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(SPARKBENCH_NVCC nvcc PATHS /usr/local/cuda/bin NO_CACHE)
    if(SPARKBENCH_NVCC)
      set(CMAKE_CUDA_COMPILER ${SPARKBENCH_NVCC})
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(SPARKBENCH_HAVE_CUDA ON)
  elseif(SPARKBENCH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SPARKBENCH_CUDA=ON but nvcc was not found")
  endif()
endif()

if(SPARKBENCH_TESTS)
  find_package(Catch2 2 CONFIG REQUIRED)
endif()
if(SPARKBENCH_KERNEL_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# The commit the binary was built from, for result provenance.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE SPARKBENCH_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT SPARKBENCH_GIT_COMMIT)
  set(SPARKBENCH_GIT_COMMIT "unknown")
endif()

# MPI (OpenMPI: libopenmpi-dev, openmpi-bin): only harness/mpi_*.cc uses it (SPARKBENCH_WITH_MPI).
set(SPARKBENCH_HAVE_MPI OFF)
if(NOT SPARKBENCH_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(SPARKBENCH_HAVE_MPI ON)
  elseif(SPARKBENCH_MPI STREQUAL "ON")
    message(FATAL_ERROR "SPARKBENCH_MPI=ON but MPI (libopenmpi-dev) was not found")
  endif()
endif()
