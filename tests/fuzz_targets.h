// What the fuzz tests exercise on a (possibly corrupt) model file held in memory: every loader a
// user's command would run. Throws sb::Error on rejection; must never crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sb::test {
void load_everything(const uint8_t* data, size_t size, const std::string& name);
}
