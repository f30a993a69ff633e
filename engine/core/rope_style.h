// RopeStyle: which element pairs rotary position embedding rotates.
#pragma once

namespace sb {
enum class RopeStyle {
  Interleaved,  // llama: pairs (2i, 2i + 1)
  NeoX,         // qwen2 / gpt-neox: pairs (i, i + n_rot / 2)
};
}
