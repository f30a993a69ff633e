// qdot_impl.inc built for ISA level avxvnni (target flags in engine/CMakeLists.txt).
#define SB_QDOT_NS qdot_avxvnni
#define SB_QDOT_ISA Isa::AvxVnni
#include "engine/backends/cpu/qdot_impl.inc"
