#include "engine/gguf/gguf.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "engine/core/error.h"

namespace sb {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::BOOL:
      return 1;
    case GgufType::UINT16:
    case GgufType::INT16:
      return 2;
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::FLOAT32:
      return 4;
    case GgufType::UINT64:
    case GgufType::INT64:
    case GgufType::FLOAT64:
      return 8;
    default:
      return 0;
  }
}

bool valid_type(uint32_t t) { return t <= uint32_t(GgufType::FLOAT64); }

// The least number of bytes one value of type t occupies in the file (for count validation).
size_t min_value_size(GgufType t) {
  if (t == GgufType::STRING) return 8;
  if (t == GgufType::ARRAY) return 12;
  return scalar_size(t);
}

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t size, const std::string& name) : p_(p), size_(size), name_(name) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  void need(uint64_t n, const std::string& what) const {
    if (n > left()) fail(name_, ": ", what, " at byte ", pos_, " needs ", n, " bytes but the file has ", left(), " left");
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& what) {
    const size_t at = pos_;
    uint64_t len = read<uint64_t>(what + " length");
    if (len > left()) fail(name_, ": ", what, " at byte ", at, " has length ", len, " past end of file");
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }
  void seek(size_t pos) { pos_ = pos; }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
};

GgufValue read_value(Cursor& c, GgufType t, const std::string& what, const std::string& file, int depth);

GgufValue read_array(Cursor& c, const std::string& what, const std::string& file, int depth) {
  if (depth >= kMaxArrayDepth) fail(file, ": ", what, ": arrays nested deeper than ", kMaxArrayDepth);
  const size_t at = c.pos();
  uint32_t et = c.read<uint32_t>(what + " element type");
  if (!valid_type(et)) fail(file, ": ", what, " at byte ", at, ": unknown array element type ", et);
  uint64_t n = c.read<uint64_t>(what + " element count");
  const size_t min = min_value_size(GgufType(et));
  if (n > c.left() / min) fail(file, ": ", what, " at byte ", at, ": array count ", n, " exceeds the bytes left in the file");
  std::vector<GgufValue> items;
  items.reserve(size_t(n));
  for (uint64_t i = 0; i < n; ++i) {
    items.push_back(read_value(c, GgufType(et), what, file, depth + 1));
  }
  return GgufValue::array(GgufType(et), std::move(items));
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& what, const std::string& file, int depth) {
  switch (t) {
    case GgufType::UINT8:
      return GgufValue::u8(c.read<uint8_t>(what));
    case GgufType::INT8:
      return GgufValue::i8(c.read<int8_t>(what));
    case GgufType::UINT16:
      return GgufValue::u16(c.read<uint16_t>(what));
    case GgufType::INT16:
      return GgufValue::i16(c.read<int16_t>(what));
    case GgufType::UINT32:
      return GgufValue::u32(c.read<uint32_t>(what));
    case GgufType::INT32:
      return GgufValue::i32(c.read<int32_t>(what));
    case GgufType::FLOAT32:
      return GgufValue::f32(c.read<float>(what));
    case GgufType::UINT64:
      return GgufValue::u64(c.read<uint64_t>(what));
    case GgufType::INT64:
      return GgufValue::i64(c.read<int64_t>(what));
    case GgufType::FLOAT64:
      return GgufValue::f64(c.read<double>(what));
    case GgufType::BOOL: {
      const size_t at = c.pos();
      uint8_t b = c.read<uint8_t>(what);
      if (b > 1) fail(file, ": ", what, " at byte ", at, ": bool value ", int(b), " is not 0 or 1");
      return GgufValue::boolean(b != 0);
    }
    case GgufType::STRING:
      return GgufValue::string(c.read_string(what));
    case GgufType::ARRAY:
      return read_array(c, what, file, depth);
  }
  fail(file, ": ", what, ": unknown value type ", uint32_t(t));
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::UINT8:
      return "u8";
    case GgufType::INT8:
      return "i8";
    case GgufType::UINT16:
      return "u16";
    case GgufType::INT16:
      return "i16";
    case GgufType::UINT32:
      return "u32";
    case GgufType::INT32:
      return "i32";
    case GgufType::FLOAT32:
      return "f32";
    case GgufType::BOOL:
      return "bool";
    case GgufType::STRING:
      return "string";
    case GgufType::ARRAY:
      return "array";
    case GgufType::UINT64:
      return "u64";
    case GgufType::INT64:
      return "i64";
    case GgufType::FLOAT64:
      return "f64";
  }
  return "?";
}

// ---- GgufValue ----

GgufValue GgufValue::array(GgufType elem, std::vector<GgufValue> items) {
  GgufValue g;
  g.type_ = GgufType::ARRAY;
  g.elem_ = elem;
  g.v_ = std::move(items);
  return g;
}
GgufValue GgufValue::strings(const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(GgufType::STRING, std::move(items));
}
GgufValue GgufValue::f32s(const std::vector<float>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (float f : v) items.push_back(f32(f));
  return array(GgufType::FLOAT32, std::move(items));
}
GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(i32(x));
  return array(GgufType::INT32, std::move(items));
}

bool GgufValue::is_int() const { return std::holds_alternative<uint64_t>(v_) || std::holds_alternative<int64_t>(v_); }
bool GgufValue::is_number() const { return is_int() || std::holds_alternative<double>(v_); }

int64_t GgufValue::as_int(std::string_view what) const {
  if (auto* u = std::get_if<uint64_t>(&v_)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) fail(what, ": value ", *u, " is too large");
    return int64_t(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v_)) return *i;
  fail(what, ": expected an integer, got ", gguf_type_name(type_));
}
uint64_t GgufValue::as_uint(std::string_view what) const {
  if (auto* u = std::get_if<uint64_t>(&v_)) return *u;
  if (auto* i = std::get_if<int64_t>(&v_)) {
    if (*i < 0) fail(what, ": expected a non-negative integer, got ", *i);
    return uint64_t(*i);
  }
  fail(what, ": expected an integer, got ", gguf_type_name(type_));
}
double GgufValue::as_float(std::string_view what) const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v_)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&v_)) return double(*i);
  fail(what, ": expected a number, got ", gguf_type_name(type_));
}
bool GgufValue::as_bool(std::string_view what) const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  fail(what, ": expected a bool, got ", gguf_type_name(type_));
}
const std::string& GgufValue::as_string(std::string_view what) const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  fail(what, ": expected a string, got ", gguf_type_name(type_));
}
const std::vector<GgufValue>& GgufValue::as_array(std::string_view what) const {
  if (auto* a = std::get_if<std::vector<GgufValue>>(&v_)) return *a;
  fail(what, ": expected an array, got ", gguf_type_name(type_));
}

std::string GgufValue::to_string(size_t max_items) const {
  if (auto* u = std::get_if<uint64_t>(&v_)) return std::to_string(*u);
  if (auto* i = std::get_if<int64_t>(&v_)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v_)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", *d);
    return buf;
  }
  if (auto* b = std::get_if<bool>(&v_)) return *b ? "true" : "false";
  if (auto* s = std::get_if<std::string>(&v_)) {
    std::string out = "\"";
    for (char ch : s->substr(0, 80)) {
      if (ch == '\n')
        out += "\\n";
      else if (ch == '"')
        out += "\\\"";
      else
        out += ch;
    }
    if (s->size() > 80) out += "...";
    return out + "\"";
  }
  const auto& a = std::get<std::vector<GgufValue>>(v_);
  std::string out = std::string("[") + gguf_type_name(elem_) + " x " + std::to_string(a.size()) + ": ";
  for (size_t i = 0; i < a.size() && i < max_items; ++i) {
    if (i) out += ", ";
    out += a[i].to_string(max_items);
  }
  if (a.size() > max_items) out += ", ...";
  return out + "]";
}

// ---- GgufFile ----

std::shared_ptr<const GgufFile> GgufFile::open(const std::string& path) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->map_ = MappedFile(path);
  f->base_ = f->map_.data();
  f->size_ = f->map_.size();
  f->name_ = path;
  f->parse_all();
  return f;
}

std::shared_ptr<const GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->base_ = data;
  f->size_ = size;
  f->name_ = std::move(name);
  f->parse_all();
  return f;
}

void GgufFile::parse_all() {
  static const uint8_t kEmpty = 0;
  Cursor c(base_ ? base_ : &kEmpty, size_, name_);
  if (size_ < 4) fail(name_, ": not a GGUF file (", size_, " bytes, too short for the magic)");
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) fail(name_, ": not a GGUF file (bad magic at byte 0)");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) fail(name_, ": GGUF version 1 is not supported (only 2 and 3)");
  if (version_ != 2 && version_ != 3) fail(name_, ": unsupported GGUF version ", version_, " (only 2 and 3)");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info
  // at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13) fail(name_, ": metadata count ", n_kv, " at byte 16 exceeds what the file can hold");
  if (n_tensors > c.left() / 32) fail(name_, ": tensor count ", n_tensors, " at byte 8 exceeds what the file can hold");

  kv_.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const size_t at = c.pos();
    std::string key = c.read_string(cat("metadata key #", i));
    uint32_t t = c.read<uint32_t>(cat("metadata '", key, "' type"));
    if (!valid_type(t)) fail(name_, ": metadata '", key, "' at byte ", at, ": unknown value type ", t);
    GgufValue v = read_value(c, GgufType(t), cat("metadata '", key, "'"), name_, 0);
    if (kv_index_.count(key)) fail(name_, ": metadata key '", key, "' at byte ", at, " appears twice");
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_int()) fail(name_, ": metadata 'general.alignment' must be an integer");
    int64_t al = a->as_int("general.alignment");
    if (al <= 0 || (al & (al - 1)) != 0 || al > (1 << 20))
      fail(name_, ": metadata 'general.alignment' = ", al, " is not a power of two up to 1 MiB");
    alignment_ = size_t(al);
  }

  tensors_.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t at = c.pos();
    GgufTensorInfo ti;
    ti.name = c.read_string(cat("tensor #", i, " name"));
    const std::string label = cat("tensor '", ti.name, "'");
    uint32_t n_dims = c.read<uint32_t>(label + " dimension count");
    if (n_dims < 1 || n_dims > kMaxDims) fail(name_, ": ", label, " at byte ", at, " has ", n_dims, " dimensions (1..4 allowed)");
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t v = c.read<uint64_t>(cat(label, " dimension ", d));
      if (v == 0 || v > uint64_t(1) << 40) fail(name_, ": ", label, " dimension ", d, " = ", v, " is out of range");
      if (__builtin_mul_overflow(n, int64_t(v), &n) || n > (int64_t(1) << 50)) fail(name_, ": ", label, ": element count overflows");
      ti.ne.push_back(int64_t(v));
    }
    ti.n_elements = n;
    uint32_t type = c.read<uint32_t>(label + " type");
    if (!ggml_type_supported(type)) fail(name_, ": ", label, " has type ", ggml_type_label(type), ", which sparkbench does not support");
    ti.type = GgmlType(type);
    if (ti.ne[0] % ggml_block_size(ti.type) != 0)
      fail(name_, ": ", label, ": row length ", ti.ne[0], " is not a multiple of the ", ggml_type_name(type), " block size");
    ti.nbytes = uint64_t(ggml_row_bytes(ti.type, ti.ne[0])) * uint64_t(ti.rows());
    ti.offset = c.read<uint64_t>(label + " offset");
    if (ti.offset % alignment_ != 0) fail(name_, ": ", label, " offset ", ti.offset, " is not a multiple of the alignment ", alignment_);
    if (tensor_index_.count(ti.name)) fail(name_, ": ", label, " at byte ", at, " appears twice");
    tensor_index_.emplace(ti.name, tensors_.size());
    tensors_.push_back(std::move(ti));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size_) fail(name_, ": tensor data section starts at byte ", data_offset_, ", past end of file");
  const uint64_t data_size = data_offset_ <= size_ ? size_ - data_offset_ : 0;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail(name_, ": tensor '", t.name, "' data ends past end of file (offset ", t.offset, " + ", t.nbytes, " bytes > ", data_size, ")");
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

int64_t GgufFile::get_int(std::string_view key, int64_t def) const {
  const GgufValue* v = find(key);
  return v ? v->as_int(cat(name_, ": metadata '", key, "'")) : def;
}
double GgufFile::get_float(std::string_view key, double def) const {
  const GgufValue* v = find(key);
  return v ? v->as_float(cat(name_, ": metadata '", key, "'")) : def;
}
bool GgufFile::get_bool(std::string_view key, bool def) const {
  const GgufValue* v = find(key);
  return v ? v->as_bool(cat(name_, ": metadata '", key, "'")) : def;
}
std::string GgufFile::get_string(std::string_view key, std::string def) const {
  const GgufValue* v = find(key);
  return v ? v->as_string(cat(name_, ": metadata '", key, "'")) : def;
}
int64_t GgufFile::require_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail(name_, ": required metadata '", key, "' is missing");
  return v->as_int(cat(name_, ": metadata '", key, "'"));
}
std::string GgufFile::require_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail(name_, ": required metadata '", key, "' is missing");
  return v->as_string(cat(name_, ": metadata '", key, "'"));
}

const GgufTensorInfo* GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<float> GgufFile::tensor_f32(const GgufTensorInfo& t) const {
  std::vector<float> out(static_cast<size_t>(t.n_elements));
  const uint8_t* src = tensor_data(t);
  const int64_t row_bytes = ggml_row_bytes(t.type, t.ne[0]);
  for (int64_t r = 0; r < t.rows(); ++r) dequantize_row(t.type, src + r * row_bytes, out.data() + r * t.ne[0], t.ne[0]);
  return out;
}

// ---- GgufWriter ----

void GgufWriter::set(const std::string& key, GgufValue v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::remove(const std::string& key) {
  std::erase_if(kv_, [&](const auto& kv) { return kv.first == key; });
}

void GgufWriter::copy_metadata(const GgufFile& f) {
  for (const auto& [k, v] : f.metadata()) set(k, v);
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  const size_t n = data.size();
  add_tensor_ref(name, type, std::move(ne), nullptr, n);
  tensors_.back().owned = std::move(data);
  tensors_.back().data = tensors_.back().owned.data();
}

void GgufWriter::add_tensor_ref(const std::string& name, GgmlType type, std::vector<int64_t> ne, const void* data, size_t nbytes) {
  if (ne.empty() || ne.size() > kMaxDims) fail("gguf writer: tensor '", name, "' must have 1..4 dimensions");
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d <= 0) fail("gguf writer: tensor '", name, "' has a non-positive dimension");
    n *= d;
  }
  if (ne[0] % ggml_block_size(type) != 0) fail("gguf writer: tensor '", name, "' row is not a whole number of blocks");
  const size_t expect = size_t(ggml_row_bytes(type, ne[0]) * (n / ne[0]));
  if (expect != nbytes) fail("gguf writer: tensor '", name, "' has ", nbytes, " bytes, expected ", expect);
  for (const auto& t : tensors_)
    if (t.name == name) fail("gguf writer: tensor '", name, "' added twice");
  tensors_.push_back(Pending{name, type, std::move(ne), {}, data, nbytes});
}

void GgufWriter::add_tensor_lazy(const std::string& name, GgmlType type, std::vector<int64_t> ne, size_t nbytes,
                                 std::function<std::vector<uint8_t>()> produce) {
  add_tensor_ref(name, type, std::move(ne), nullptr, nbytes);
  tensors_.back().produce = std::move(produce);
}

size_t GgufWriter::alignment() const {
  for (const auto& kv : kv_)
    if (kv.first == "general.alignment") return size_t(kv.second.as_int("general.alignment"));
  return 32;
}

namespace {

template <class Sink>
void put_raw(Sink& s, const void* p, size_t n) {
  s(p, n);
}
template <class Sink, class T>
void put(Sink& s, T v) {
  s(&v, sizeof v);
}
template <class Sink>
void put_string(Sink& s, const std::string& str) {
  put<Sink, uint64_t>(s, str.size());
  s(str.data(), str.size());
}

template <class Sink>
void put_value(Sink& s, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::UINT8:
      put<Sink, uint8_t>(s, uint8_t(v.as_uint()));
      break;
    case GgufType::INT8:
      put<Sink, int8_t>(s, int8_t(v.as_int()));
      break;
    case GgufType::UINT16:
      put<Sink, uint16_t>(s, uint16_t(v.as_uint()));
      break;
    case GgufType::INT16:
      put<Sink, int16_t>(s, int16_t(v.as_int()));
      break;
    case GgufType::UINT32:
      put<Sink, uint32_t>(s, uint32_t(v.as_uint()));
      break;
    case GgufType::INT32:
      put<Sink, int32_t>(s, int32_t(v.as_int()));
      break;
    case GgufType::FLOAT32:
      put<Sink, float>(s, float(v.as_float()));
      break;
    case GgufType::UINT64:
      put<Sink, uint64_t>(s, v.as_uint());
      break;
    case GgufType::INT64:
      put<Sink, int64_t>(s, v.as_int());
      break;
    case GgufType::FLOAT64:
      put<Sink, double>(s, v.as_float());
      break;
    case GgufType::BOOL:
      put<Sink, uint8_t>(s, v.as_bool() ? 1 : 0);
      break;
    case GgufType::STRING:
      put_string(s, v.as_string());
      break;
    case GgufType::ARRAY: {
      const auto& a = v.as_array();
      put<Sink, uint32_t>(s, uint32_t(v.array_type()));
      put<Sink, uint64_t>(s, a.size());
      for (const auto& item : a) {
        if (item.type() != v.array_type())
          fail("gguf writer: array element of type ", gguf_type_name(item.type()), " in an array of ", gguf_type_name(v.array_type()));
        put_value(s, item);
      }
      break;
    }
  }
}

}  // namespace

template <class Sink>
void GgufWriter::emit(Sink& sink, uint32_t version) const {
  if (version != 2 && version != 3) fail("gguf writer: can only write versions 2 and 3");
  const size_t align = alignment();
  size_t written = 0;
  auto counted = [&](const void* p, size_t n) {
    sink(p, n);
    written += n;
  };
  auto pad = [&](size_t to) {
    static const uint8_t zeros[64] = {};
    size_t n = (to - written % to) % to;
    while (n > 0) {
      size_t k = std::min(n, sizeof zeros);
      counted(zeros, k);
      n -= k;
    }
  };
  put<decltype(counted), uint32_t>(counted, kMagic);
  put<decltype(counted), uint32_t>(counted, version);
  put<decltype(counted), uint64_t>(counted, tensors_.size());
  put<decltype(counted), uint64_t>(counted, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(counted, k);
    put<decltype(counted), uint32_t>(counted, uint32_t(v.type()));
    put_value(counted, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(counted, t.name);
    put<decltype(counted), uint32_t>(counted, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put<decltype(counted), uint64_t>(counted, uint64_t(d));
    put<decltype(counted), uint32_t>(counted, uint32_t(t.type));
    put<decltype(counted), uint64_t>(counted, offset);
    offset += (t.nbytes + align - 1) / align * align;
  }
  pad(align);
  for (const auto& t : tensors_) {
    if (t.produce) {
      const std::vector<uint8_t> bytes = t.produce();
      if (bytes.size() != t.nbytes) fail("gguf writer: tensor '", t.name, "' produced ", bytes.size(), " bytes, expected ", t.nbytes);
      counted(bytes.data(), bytes.size());
    } else {
      counted(t.data, t.nbytes);
    }
    pad(align);
  }
}

std::vector<uint8_t> GgufWriter::serialize(uint32_t version) const {
  std::vector<uint8_t> out;
  // Reserve the tensor data (plus room for metadata) so the buffer is not regrown and copied;
  // reserved pages that are never written cost no memory.
  size_t data = size_t(8) << 20;
  for (const auto& t : tensors_) data += t.nbytes + 64;
  out.reserve(data);
  auto sink = [&](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  emit(sink, version);
  return out;
}

void GgufWriter::write(const std::string& path, uint32_t version) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, ": cannot create: ", std::strerror(errno));
  std::vector<char> buf(1 << 20);
  std::setvbuf(f, buf.data(), _IOFBF, buf.size());
  bool ok = true;
  auto sink = [&](const void* p, size_t n) {
    if (ok && n > 0 && std::fwrite(p, 1, n, f) != n) ok = false;
  };
  try {
    emit(sink, version);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::fflush(f) != 0) ok = false;
  if (ok && ::fsync(::fileno(f)) != 0) ok = false;
  if (std::fclose(f) != 0) ok = false;
  if (!ok) {
    int e = errno;
    std::remove(tmp.c_str());
    fail(path, ": write failed: ", std::strerror(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    fail(path, ": cannot rename into place: ", std::strerror(e));
  }
}

}  // namespace sb
