// qgemv_impl.inc built for ISA level avxvnni (target flags in engine/CMakeLists.txt).
#define SB_QGEMV_NS qgemv_avxvnni
#define SB_QGEMV_ISA Isa::AvxVnni
#include "engine/backends/cpu/qgemv_impl.inc"
