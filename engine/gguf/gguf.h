// GGUF model files (versions 2 and 3), the llama.cpp ecosystem's format.
//
// GgufFile parses a file (memory-mapped) or an in-memory buffer. Parsing validates every count,
// length, dimension, type and offset against the bytes actually present before using it, so a
// corrupt or hostile file produces sb::Error with a one-line message naming the file and the
// field at fault (e.g. "m.gguf: tensor 'blk.3.attn_q.weight' data ends past end of file"), never
// a crash or an allocation larger than the file. Once constructed the object is immutable and
// safe to read from several threads. Tensor data pointers stay valid while the object lives.
//
// GgufWriter produces files with llama.cpp's layout rules: header, metadata in insertion order,
// tensor infos, padding to `general.alignment` (default 32), tensor data each aligned. Files are
// written to a temporary name and renamed into place, so a crash never leaves a partial file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/mmap_file.h"
#include "engine/gguf/ggml_types.h"

namespace sb {

enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value: a scalar, a string, or a (possibly nested) array of values.
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue u8(uint8_t v) { return scalar(GgufType::UINT8, uint64_t(v)); }
  static GgufValue i8(int8_t v) { return scalar(GgufType::INT8, int64_t(v)); }
  static GgufValue u16(uint16_t v) { return scalar(GgufType::UINT16, uint64_t(v)); }
  static GgufValue i16(int16_t v) { return scalar(GgufType::INT16, int64_t(v)); }
  static GgufValue u32(uint32_t v) { return scalar(GgufType::UINT32, uint64_t(v)); }
  static GgufValue i32(int32_t v) { return scalar(GgufType::INT32, int64_t(v)); }
  static GgufValue u64(uint64_t v) { return scalar(GgufType::UINT64, v); }
  static GgufValue i64(int64_t v) { return scalar(GgufType::INT64, v); }
  static GgufValue f32(float v) { return scalar(GgufType::FLOAT32, double(v)); }
  static GgufValue f64(double v) { return scalar(GgufType::FLOAT64, v); }
  static GgufValue boolean(bool v) { return scalar(GgufType::BOOL, v); }
  static GgufValue string(std::string v) { return scalar(GgufType::STRING, std::move(v)); }
  static GgufValue array(GgufType elem, std::vector<GgufValue> items);
  static GgufValue strings(const std::vector<std::string>& v);
  static GgufValue f32s(const std::vector<float>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);

  GgufType type() const { return type_; }
  bool is_int() const;     // any integer type
  bool is_number() const;  // integer or float
  // Checked accessors: throw sb::Error ("<key>: expected ..., got ...") on a type mismatch
  // or a value that does not fit. `what` names the value in the message.
  int64_t as_int(std::string_view what = "value") const;
  uint64_t as_uint(std::string_view what = "value") const;
  double as_float(std::string_view what = "value") const;
  bool as_bool(std::string_view what = "value") const;
  const std::string& as_string(std::string_view what = "value") const;
  const std::vector<GgufValue>& as_array(std::string_view what = "value") const;
  GgufType array_type() const { return elem_; }
  // Short human rendering (arrays abbreviated).
  std::string to_string(size_t max_items = 8) const;

 private:
  template <class T>
  static GgufValue scalar(GgufType t, T v) {
    GgufValue g;
    g.type_ = t;
    g.v_ = std::move(v);
    return g;
  }
  GgufType type_ = GgufType::UINT8;
  GgufType elem_ = GgufType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>> v_ = uint64_t(0);
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // dimensions, ne[0] varies fastest (a row); up to 4
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t nbytes = 0;
  int64_t n_elements = 0;
  int64_t rows() const { return ne.empty() ? 1 : n_elements / ne[0]; }
};

class GgufFile {
 public:
  // Memory-maps and parses `path`.
  static std::shared_ptr<const GgufFile> open(const std::string& path);
  // Parses a caller-owned buffer that must outlive the returned object. `name` is used in errors.
  static std::shared_ptr<const GgufFile> parse(const uint8_t* data, size_t size, std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return size_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  // Typed lookups: the default when absent; sb::Error naming file and key on a wrong type.
  int64_t get_int(std::string_view key, int64_t def) const;
  double get_float(std::string_view key, double def) const;
  bool get_bool(std::string_view key, bool def) const;
  std::string get_string(std::string_view key, std::string def) const;
  // Required lookups: sb::Error naming file and key when absent.
  int64_t require_int(std::string_view key) const;
  std::string require_string(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor(std::string_view name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return base_ + data_offset_ + t.offset; }
  // True for open() (a read-only file mapping), false for parse() (a caller's buffer).
  bool mapped() const { return map_.data() != nullptr; }
  // Dequantizes a whole tensor to f32 (n_elements values).
  std::vector<float> tensor_f32(const GgufTensorInfo& t) const;

 private:
  GgufFile() = default;
  void parse_all();
  MappedFile map_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

class GgufWriter {
 public:
  // Sets (or replaces, keeping its position) a metadata key.
  void set(const std::string& key, GgufValue v);
  void remove(const std::string& key);
  // Copies all metadata from a parsed file (keeps order).
  void copy_metadata(const GgufFile& f);
  // Adds a tensor that owns its bytes; ne[0] varies fastest. Validates size against type.
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> data);
  // Adds a tensor referencing caller memory that must outlive write().
  void add_tensor_ref(const std::string& name, GgmlType type, std::vector<int64_t> ne, const void* data, size_t nbytes);
  // Adds a tensor whose bytes `produce` returns when write()/serialize() reaches it (then they are
  // dropped), so a converted model never needs all its new tensors in memory at once. The result
  // must have exactly `nbytes` bytes (sb::Error otherwise).
  void add_tensor_lazy(const std::string& name, GgmlType type, std::vector<int64_t> ne, size_t nbytes,
                       std::function<std::vector<uint8_t>()> produce);
  size_t tensor_count() const { return tensors_.size(); }
  // Writes the file (atomically). version 3 by default; 2 is accepted for tests.
  void write(const std::string& path, uint32_t version = 3) const;
  // Serializes to memory (tests, small files).
  std::vector<uint8_t> serialize(uint32_t version = 3) const;

 private:
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> owned;
    const void* data;
    size_t nbytes;
    std::function<std::vector<uint8_t>()> produce;  // lazy tensors
  };
  template <class Sink>
  void emit(Sink& sink, uint32_t version) const;
  size_t alignment() const;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace sb
