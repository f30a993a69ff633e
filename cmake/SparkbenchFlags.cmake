# Compiler flags shared by every sparkbench target (applied through sparkbench_flags).
add_library(sparkbench_flags INTERFACE)
target_compile_options(sparkbench_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers>)
if(SPARKBENCH_SANITIZE)
  target_compile_options(sparkbench_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(sparkbench_flags INTERFACE -fsanitize=address,undefined)
endif()
if(SPARKBENCH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SPARKBENCH_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  target_compile_options(sparkbench_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(sparkbench_flags INTERFACE -fsanitize=address,undefined)
endif()
target_compile_definitions(sparkbench_flags INTERFACE
  SPARKBENCH_VERSION="${PROJECT_VERSION}")
