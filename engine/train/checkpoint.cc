#include "engine/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/core/sha256.h"

namespace sb::train {

namespace {

constexpr char kMagic[8] = {'S', 'B', 'C', 'K', 'P', 'T', '\0', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 24;   // magic, version, reserved, payload size
constexpr size_t kTrailer = 64;  // hex SHA-256

class Writer {
 public:
  template <class T>
  void pod(const T& v) {
    const auto* b = reinterpret_cast<const char*>(&v);
    out.append(b, sizeof v);
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod(uint64_t(v.size()));
    if (!v.empty()) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void str(const std::string& s) {
    pod(uint64_t(s.size()));
    out += s;
  }
  std::string out;
};

class Reader {
 public:
  Reader(const std::string& path, const uint8_t* data, size_t begin, size_t end) : path_(path), d_(data), off_(begin), end_(end) {}
  template <class T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_ + off_, sizeof v);
    off_ += sizeof v;
    return v;
  }
  template <class T>
  std::vector<T> vec(const char* what) {
    const uint64_t n = count(sizeof(T), what);
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), d_ + off_, n * sizeof(T));
    off_ += n * sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = count(1, what);
    std::string s(reinterpret_cast<const char*>(d_ + off_), n);
    off_ += n;
    return s;
  }
  // A count of elements of `size` bytes that must fit in the rest of the payload.
  uint64_t count(size_t size, const char* what) {
    const size_t at = off_;
    const uint64_t n = pod<uint64_t>(what);
    if (n > (end_ - off_) / size)
      fail(path_, ": byte ", at, ": ", what, " claims ", n, " entries, more than the ", end_ - off_, " bytes left in the checkpoint");
    return n;
  }
  size_t offset() const { return off_; }
  size_t end() const { return end_; }

 private:
  void need(size_t n, const char* what) {
    if (end_ - off_ < n) fail(path_, ": byte ", off_, ": ", what, " runs past the end of the checkpoint payload");
  }
  const std::string& path_;
  const uint8_t* d_;
  size_t off_, end_;
};

void fsync_dir(const std::string& dir) {  // best effort: makes the renames durable
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::vector<std::pair<std::string, std::string>> parse_settings(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> kv;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(';', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    const size_t eq = item.find('=');
    if (!item.empty()) kv.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    i = j + 1;
  }
  return kv;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  Writer p;
  p.str(c.settings);
  p.pod(c.step);
  p.pod(c.tokens);
  p.pod(c.kld_before);
  p.vec(c.losses);
  p.pod(uint64_t(c.evals.size()));
  for (const auto& [s, k] : c.evals) {
    p.pod(s);
    p.pod(k);
  }
  p.pod(c.adam_steps);
  p.pod(uint64_t(c.params.size()));
  for (const auto& t : c.params) {
    p.str(t.name);
    p.vec(t.w);
    p.vec(t.m);
    p.vec(t.v);
  }
  Writer f;
  f.out.append(kMagic, sizeof kMagic);
  f.pod(kVersion);
  f.pod(uint32_t(0));
  f.pod(uint64_t(p.out.size()));
  f.out += p.out;
  f.out += sha256_hex(f.out);
  write_file_atomic(path, f.out.data(), f.out.size());
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": no checkpoint file");
  const MappedFile mf(path);
  const uint8_t* d = mf.data();
  const size_t size = mf.size();
  if (size < sizeof kMagic || std::memcmp(d, kMagic, sizeof kMagic) != 0) fail(path, ": not a sparkbench checkpoint (bad magic at byte 0)");
  if (size < kHeader) fail(path, ": truncated: ", size, " bytes, shorter than the ", kHeader, "-byte header");
  uint32_t version;
  uint64_t payload;
  std::memcpy(&version, d + 8, 4);
  std::memcpy(&payload, d + 16, 8);
  if (version != kVersion) fail(path, ": byte 8: checkpoint version ", version, ", this build reads ", kVersion);
  if (payload > size || size != payload + kHeader + kTrailer) {
    if (payload > size || size < payload + kHeader + kTrailer)
      fail(path, ": truncated: ", size, " bytes, the header announces ",
           payload > size ? std::to_string(payload) + " bytes of payload" : std::to_string(payload + kHeader + kTrailer));
    fail(path, ": byte ", payload + kHeader + kTrailer, ": ", size - payload - kHeader - kTrailer, " unexpected bytes after the checksum");
  }
  const std::string want(reinterpret_cast<const char*>(d + kHeader + payload), kTrailer);
  if (sha256_hex(std::string_view(reinterpret_cast<const char*>(d), kHeader + payload)) != want)
    fail(path, ": checksum mismatch: the checkpoint is corrupt");
  Reader r(path, d, kHeader, kHeader + payload);
  Checkpoint c;
  c.settings = r.str("settings");
  c.step = r.pod<int64_t>("step");
  c.tokens = r.pod<int64_t>("tokens");
  c.kld_before = r.pod<double>("kld_before");
  c.losses = r.vec<double>("losses");
  const uint64_t ne = r.count(16, "evals");
  for (uint64_t i = 0; i < ne; ++i) {
    const int64_t s = r.pod<int64_t>("eval step");
    c.evals.push_back({s, r.pod<double>("eval KLD")});
  }
  c.adam_steps = r.pod<int64_t>("adam steps");
  const uint64_t np = r.count(8, "parameters");
  for (uint64_t i = 0; i < np; ++i) {
    CheckpointParam t;
    t.name = r.str("parameter name");
    t.w = r.vec<float>("parameter values");
    t.m = r.vec<double>("AdamW first moments");
    t.v = r.vec<double>("AdamW second moments");
    c.params.push_back(std::move(t));
  }
  if (r.offset() != r.end()) fail(path, ": byte ", r.offset(), ": ", r.end() - r.offset(), " bytes left unread in the payload");
  if (c.step < 0 || int64_t(c.losses.size()) != c.step) fail(path, ": step ", c.step, " with ", c.losses.size(), " losses");
  return c;
}

std::string checkpoint_latest_path(const std::string& dir) { return dir + "/checkpoint.sbck"; }
std::string checkpoint_prev_path(const std::string& dir) { return dir + "/checkpoint.prev.sbck"; }

void save_checkpoint_dir(const std::string& dir, const Checkpoint& c) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create the checkpoint directory: ", ec.message());
  const std::string latest = checkpoint_latest_path(dir), prev = checkpoint_prev_path(dir);
  if (std::filesystem::exists(latest, ec) && std::rename(latest.c_str(), prev.c_str()) != 0)
    fail(latest, ": cannot rename to ", prev, ": ", std::strerror(errno));
  save_checkpoint(latest, c);
  fsync_dir(dir);
  // temp files of writes that a kill interrupted (write_file_atomic names them latest.tmp.PID)
  const std::string stale = std::filesystem::path(latest).filename().string() + ".tmp.";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(stale, 0) == 0) std::filesystem::remove(e.path(), ec);
}

std::optional<std::pair<Checkpoint, std::string>> load_latest_checkpoint(const std::string& dir) {
  std::error_code ec;
  const std::string latest = checkpoint_latest_path(dir), prev = checkpoint_prev_path(dir);
  if (std::filesystem::exists(latest, ec)) {
    try {
      return std::make_pair(load_checkpoint(latest), latest);
    } catch (const Error& e) {
      if (std::filesystem::exists(prev, ec)) fail(e.what(), " (remove it to resume from ", prev, ")");
      throw;
    }
  }
  if (std::filesystem::exists(prev, ec)) return std::make_pair(load_checkpoint(prev), prev);
  return std::nullopt;
}

void check_same_run(const std::string& path, const std::string& saved, const std::string& current) {
  const auto a_list = parse_settings(saved), b = parse_settings(current);
  const std::map<std::string, std::string> a(a_list.begin(), a_list.end());
  const std::map<std::string, std::string> b_map(b.begin(), b.end());
  for (const auto& [k, v] : b) {  // in the order of the current line: options before data hashes
    const auto it = a.find(k);
    if (it == a.end()) fail(path, ": checkpoint of another run: it has no setting '", k, "' (this run: ", v, ")");
    if (it->second != v)
      fail(path, ": checkpoint of another run: ", k, " ", it->second, " there, ", v,
           " now (use another checkpoint directory or the same settings)");
  }
  for (const auto& [k, v] : a_list)
    if (!b_map.count(k)) fail(path, ": checkpoint of another run: setting '", k, "' (", v, ") is unknown to this run");
}

}  // namespace sb::train
