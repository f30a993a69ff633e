// MappedFile: a read-only memory map of a whole file (RAII). Throws sb::Error naming the path
// when the file cannot be opened or mapped. An empty file maps to data() == nullptr, size() == 0.
// Thread-safe for concurrent reads; movable, not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sb {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hint the kernel that the range will be read soon (madvise WILLNEED); best effort.
  void prefetch(size_t offset, size_t len) const;

 private:
  void reset();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the pages of [p, p + bytes) (whole pages inside it) from the process's resident set.
// Only for a read-only file mapping, whose pages a later read faults in again from the file;
// on memory a caller owns it would zero the data. Best effort.
void release_file_pages(const void* p, size_t bytes);

// Reads a whole file into a string; throws sb::Error naming the path on failure.
std::string read_file(const std::string& path);
// Writes data to path atomically (temp file in the same directory, fsync, rename).
void write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace sb
