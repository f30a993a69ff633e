// Which body of an integer-kernel family (qdot, qgemm, qgemv: one per ISA level, compiled from
// their *_impl.inc files) serves an ISA level. The one rule for all three families: avx2 and
// avxvnni map to themselves, avx512 to avx512, avx512vnni and avx512bf16 to avx512vnni (bf16
// adds nothing to integer products). A level this CPU lacks, or Isa::None, is an error naming
// the family.
#pragma once

#include "engine/backends/cpu_isa.h"
#include "engine/core/error.h"

namespace sb::cpu {

template <class K>
struct IntLevelBodies {
  const K& (*avx2)();
  const K& (*avxvnni)();
  const K& (*avx512)();
  const K& (*avx512vnni)();
};

template <class K>
const K& pick_int_level(const char* family, Isa isa, const IntLevelBodies<K>& b) {
  if (!isa_available(isa) || isa == Isa::None) fail(family, ": ISA level ", isa_name(isa), " is not available on this CPU");
  switch (isa) {
    case Isa::AvxVnni:
      return b.avxvnni();
    case Isa::Avx512:
      return b.avx512();
    case Isa::Avx512Vnni:
    case Isa::Avx512Bf16:
      return b.avx512vnni();
    default:
      return b.avx2();
  }
}

}  // namespace sb::cpu
