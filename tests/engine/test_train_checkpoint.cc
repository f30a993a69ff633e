// Distillation checkpoints (engine/train/checkpoint.h, distill.h): the file round trip is bit
// exact; truncated, flipped and foreign files are one sb::Error naming the file; a restored
// AdamW steps as the saved one; a distill() run stopped half-way and resumed in fresh objects
// ends bit-identical to an unbroken run; a checkpoint of other settings is refused.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/mmap_file.h"
#include "engine/core/sha256.h"
#include "engine/train/checkpoint.h"
#include "engine/train/distill.h"
#include "engine/train/optim.h"
#include "engine/train/train_model.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::train;

namespace {

ModelConfig ckpt_config() {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = 16;
  c.n_ctx = 64;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 8;
  c.n_rot = 8;
  c.n_ff = 24;
  c.tied_output = false;
  return c;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool same_params(const TrainModel<float>& a, const TrainModel<float>& b) {
  if (a.params().size() != b.params().size()) return false;
  for (size_t i = 0; i < a.params().size(); ++i)
    if (a.params()[i].name != b.params()[i].name || !same_bits(a.params()[i].w, b.params()[i].w)) return false;
  return true;
}

Checkpoint sample_checkpoint() {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd;
  Checkpoint c;
  c.settings = "steps=10;lr=0.001";
  c.step = 3;
  c.tokens = 123;
  c.kld_before = 0.6180339887;
  c.losses = {1.5, 1.25, std::nan("")};  // NaN bits travel as they are
  c.evals = {{2, 0.5}};
  c.adam_steps = 3;
  for (int t = 0; t < 3; ++t) {
    CheckpointParam p;
    p.name = "blk." + std::to_string(t) + ".w";
    for (int i = 0; i < 50 + t; ++i) {
      p.w.push_back(float(nd(rng)));
      p.m.push_back(nd(rng) * 1e-3);
      p.v.push_back(std::fabs(nd(rng)) * 1e-6);
    }
    c.params.push_back(std::move(p));
  }
  return c;
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; }

std::vector<std::vector<int32_t>> random_seqs(uint32_t seed, int n, int len, int vocab) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> out(size_t(n), std::vector<int32_t>(static_cast<size_t>(len)));
  for (auto& s : out)
    for (int32_t& t : s) t = int32_t(rng() % uint32_t(vocab));
  return out;
}

struct Stop : std::runtime_error {
  Stop() : std::runtime_error("stopped") {}
};

}  // namespace

TEST_CASE("checkpoint: save/load round trip is bit exact", "[distill][unit]") {
  const std::string dir = test::temp_dir("ckpt-roundtrip");
  const Checkpoint c = sample_checkpoint();
  save_checkpoint(dir + "/a.sbck", c);
  const Checkpoint d = load_checkpoint(dir + "/a.sbck");
  CHECK(d.settings == c.settings);
  CHECK(d.step == c.step);
  CHECK(d.tokens == c.tokens);
  CHECK(std::memcmp(&d.kld_before, &c.kld_before, sizeof(double)) == 0);
  CHECK(same_bits(d.losses, c.losses));
  REQUIRE(d.evals.size() == 1);
  CHECK((d.evals[0].first == 2 && d.evals[0].second == 0.5));
  CHECK(d.adam_steps == 3);
  REQUIRE(d.params.size() == c.params.size());
  for (size_t i = 0; i < c.params.size(); ++i) {
    CHECK(d.params[i].name == c.params[i].name);
    CHECK(same_bits(d.params[i].w, c.params[i].w));
    CHECK(same_bits(d.params[i].m, c.params[i].m));
    CHECK(same_bits(d.params[i].v, c.params[i].v));
  }
  // a directory keeps the latest and the one before
  const std::string cd = dir + "/run";
  CHECK(!load_latest_checkpoint(cd).has_value());
  Checkpoint c2 = c;
  c2.step = 4;
  c2.losses.push_back(1.0);
  save_checkpoint_dir(cd, c);
  write_bytes(checkpoint_latest_path(cd) + ".tmp.99999", "half a checkpoint");  // a write killed midway
  save_checkpoint_dir(cd, c2);
  CHECK(!std::filesystem::exists(checkpoint_latest_path(cd) + ".tmp.99999"));
  auto latest = load_latest_checkpoint(cd);
  REQUIRE(latest.has_value());
  CHECK(latest->first.step == 4);
  CHECK(latest->second == checkpoint_latest_path(cd));
  CHECK(load_checkpoint(checkpoint_prev_path(cd)).step == 3);
  // killed between the rename to .prev and the new file: .prev is taken
  std::filesystem::remove(checkpoint_latest_path(cd));
  latest = load_latest_checkpoint(cd);
  REQUIRE(latest.has_value());
  CHECK(latest->first.step == 3);
}

TEST_CASE("checkpoint: truncated, flipped or foreign files are one error naming the file", "[distill][unit]") {
  const std::string dir = test::temp_dir("ckpt-corrupt");
  const std::string good = dir + "/good.sbck";
  save_checkpoint(good, sample_checkpoint());
  const std::string bytes = read_file(good);
  REQUIRE(bytes.size() > 200);
  const std::string bad = dir + "/bad.sbck";
  auto error_of = [&](const std::string& content) -> std::string {
    write_bytes(bad, content);
    try {
      load_checkpoint(bad);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  for (size_t cut : {size_t(0), size_t(5), size_t(20), size_t(100), bytes.size() - 65, bytes.size() - 1}) {
    const std::string e = error_of(bytes.substr(0, cut));
    INFO("cut at " << cut << ": " << e);
    CHECK(e.find(bad + ": ") == 0);
    CHECK(e.find('\n') == std::string::npos);
  }
  CHECK(error_of(bytes.substr(0, 100)).find("truncated") != std::string::npos);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  CHECK(error_of(flipped) == bad + ": checksum mismatch: the checkpoint is corrupt");
  std::string magic = bytes;
  magic[0] = 'G';
  CHECK(error_of(magic) == bad + ": not a sparkbench checkpoint (bad magic at byte 0)");
  std::string version = bytes;
  version[8] = 7;
  CHECK(error_of(version).find(bad + ": byte 8: checkpoint version 7") == 0);
  CHECK(error_of(bytes + "xx").find("unexpected bytes") != std::string::npos);
  CHECK_THROWS_WITH(load_checkpoint(dir + "/absent.sbck"), dir + "/absent.sbck: no checkpoint file");
  // a corrupt latest checkpoint is not skipped silently: the error names the previous one
  const std::string cd = dir + "/run";
  save_checkpoint_dir(cd, sample_checkpoint());
  save_checkpoint_dir(cd, sample_checkpoint());
  write_bytes(checkpoint_latest_path(cd), flipped);
  CHECK_THROWS_WITH(load_latest_checkpoint(cd),
                    Catch::StartsWith(checkpoint_latest_path(cd) + ": checksum mismatch") && Catch::Contains(checkpoint_prev_path(cd)));
}

TEST_CASE("checkpoint: garbage behind a valid checksum is one error naming the file and never a crash", "[distill][unit]") {
  // every byte of the header and payload overwritten in turn, the checksum recomputed so that the
  // field parser sees the garbage (lengths past the end, huge counts, odd sizes)
  const std::string dir = test::temp_dir("ckpt-garbage");
  const std::string path = dir + "/g.sbck";
  save_checkpoint(path, sample_checkpoint());
  const std::string bytes = read_file(path);
  const size_t body = bytes.size() - 64;
  int rejected = 0, loaded = 0, bad_messages = 0;
  for (size_t at = 0; at < body; at += at < 320 ? 1 : 61) {  // the fields up to the first tensor's values, then a sample
    std::string m = bytes.substr(0, body);
    m[at] = char(m[at] ^ ((at % 3 == 0) ? 0xff : 0x80));
    write_bytes(path, m + sha256_hex(m));
    try {
      load_checkpoint(path);
      ++loaded;  // a value byte (weights, losses) changed: still a well-formed file
    } catch (const Error& e) {
      ++rejected;
      const std::string w = e.what();
      if (w.rfind(path + ": ", 0) != 0 || w.find('\n') != std::string::npos) ++bad_messages;
    }
  }
  INFO(rejected << " rejected, " << loaded << " loaded");
  CHECK(bad_messages == 0);
  CHECK(rejected >= 24);  // at least the magic/version/size header and the length fields
  CHECK(loaded > 0);
}

TEST_CASE("checkpoint: settings of another run are refused naming the setting", "[distill][unit]") {
  CHECK_NOTHROW(check_same_run("f", "a=1;b=2", "a=1;b=2"));
  CHECK_THROWS_WITH(check_same_run("f", "a=1;b=2", "a=1;b=3"), Catch::StartsWith("f: checkpoint of another run: b 2 there, 3 now"));
  CHECK_THROWS_WITH(check_same_run("f", "a=1", "a=1;b=3"), Catch::Contains("no setting 'b'"));
  CHECK_THROWS_WITH(check_same_run("f", "a=1;c=0", "a=1"), Catch::Contains("setting 'c'"));
}

TEST_CASE("checkpoint: a restored AdamW steps exactly as the saved one", "[distill][unit]") {
  TrainModel<float> a = TrainModel<float>::random(ckpt_config(), 3);
  std::mt19937_64 rng(9);
  std::normal_distribution<float> nd;
  auto grads = [&] {
    std::vector<std::vector<float>> g;
    for (const auto& p : a.params()) {
      g.emplace_back(p.w.size());
      for (float& x : g.back()) x = nd(rng);
    }
    return g;
  };
  AdamW<float> opt({0.9, 0.999, 1e-8, 0.01});
  for (int s = 0; s < 3; ++s) opt.step(a.params(), grads(), 1e-2);
  const std::string dir = test::temp_dir("ckpt-adam");
  Checkpoint c;
  c.step = 0;
  c.adam_steps = opt.steps();
  for (size_t i = 0; i < a.params().size(); ++i)
    c.params.push_back({a.params()[i].name, a.params()[i].w, opt.first_moments()[i], opt.second_moments()[i]});
  save_checkpoint(dir + "/o.sbck", c);
  Checkpoint d = load_checkpoint(dir + "/o.sbck");
  TrainModel<float> b = TrainModel<float>::random(ckpt_config(), 4);  // other values, same shapes
  std::vector<std::vector<double>> m, v;
  for (size_t i = 0; i < d.params.size(); ++i) {
    b.params()[i].w = d.params[i].w;
    m.push_back(d.params[i].m);
    v.push_back(d.params[i].v);
  }
  AdamW<float> opt2({0.9, 0.999, 1e-8, 0.01});
  opt2.restore(d.adam_steps, std::move(m), std::move(v));
  REQUIRE(same_params(a, b));
  for (int s = 0; s < 2; ++s) {
    const auto g = grads();
    opt.step(a.params(), g, 1e-2);
    opt2.step(b.params(), g, 1e-2);
  }
  CHECK(opt2.steps() == 5);
  CHECK(same_params(a, b));
  // a state of other shapes is refused, not stepped on
  AdamW<float> opt3;
  opt3.restore(1, {{0.0}}, {{0.0}});
  CHECK_THROWS_AS(opt3.step(b.params(), grads(), 1e-2), Error);
  CHECK_THROWS_AS(opt3.restore(1, {{0.0}}, {}), Error);
}

TEST_CASE("checkpoint: distill stopped half-way and resumed ends bit-identical to an unbroken run", "[distill][unit]") {
  const ModelConfig cfg = ckpt_config();
  const TrainModel<float> teacher0 = TrainModel<float>::random(cfg, 11, 0.3, 0.1);
  auto make_student = [&] {
    TrainModel<float> s = TrainModel<float>::random(cfg, 12, 0.3, 0.1);
    auto& wq = s.params()[size_t(s.layers[0].wq)].w;
    for (size_t i = 0; i < wq.size(); i += 3) wq[i] = 0.0f;  // a pruning mask that must stay fixed
    return s;
  };
  const auto train = random_seqs(1, 24, 12, cfg.n_vocab), held = random_seqs(2, 4, 12, cfg.n_vocab);
  DistillOptions o;
  o.steps = 20;
  o.batch = 3;
  o.lr = 1e-2;
  o.warmup = 4;
  o.top_k = 8;
  o.eval_every = 4;
  o.weight_decay = 0.01;
  o.seed = 7;

  TrainModel<float> teacher = teacher0;
  TrainModel<float> unbroken = make_student();
  const DistillResult ru = distill(teacher, unbroken, train, held, o, true);
  REQUIRE(ru.losses.size() == 20);

  const std::string dir = test::temp_dir("ckpt-resume") + "/ck";
  DistillOptions ob = o;
  ob.checkpoint_dir = dir;
  ob.checkpoint_every = 10;
  ob.progress = [](int64_t step, double, double) {
    if (step == 13) throw Stop();  // "killed" at step 13: the last checkpoint is step 10's
  };
  {
    TrainModel<float> s = make_student();
    CHECK_THROWS_AS(distill(teacher, s, train, held, ob, true), Stop);
  }
  REQUIRE(load_checkpoint(checkpoint_latest_path(dir)).step == 10);
  ob.progress = nullptr;
  TrainModel<float> teacher2 = teacher0;  // fresh objects, as a new process would have
  TrainModel<float> resumed = make_student();
  const DistillResult rr = distill(teacher2, resumed, train, held, ob, true);
  CHECK(rr.resumed_from == 10);
  CHECK(same_params(unbroken, resumed));
  CHECK(same_bits(ru.losses, rr.losses));
  CHECK(std::memcmp(&ru.kld_before, &rr.kld_before, sizeof(double)) == 0);
  CHECK(std::memcmp(&ru.kld_after, &rr.kld_after, sizeof(double)) == 0);
  CHECK(ru.evals == rr.evals);
  CHECK(ru.tokens == rr.tokens);
  CHECK(ru.kld_after < ru.kld_before);  // it did train
  const auto& wq = resumed.params()[size_t(resumed.layers[0].wq)].w;
  bool zeros = true;
  for (size_t i = 0; i < wq.size(); i += 3) zeros = zeros && wq[i] == 0.0f;
  CHECK(zeros);
  // the finished run's checkpoint: a rerun trains nothing and reports the same
  TrainModel<float> again = make_student();
  const DistillResult ra = distill(teacher2, again, train, held, ob, true);
  CHECK(ra.resumed_from == 20);
  CHECK(same_params(unbroken, again));
  CHECK(std::memcmp(&ru.kld_after, &ra.kld_after, sizeof(double)) == 0);

  // other settings, another student or other data: refused with one line naming the file
  TrainModel<float> s2 = make_student();
  DistillOptions other = ob;
  other.lr = 2e-2;
  CHECK_THROWS_WITH(distill(teacher2, s2, train, held, other, true),
                    Catch::StartsWith(checkpoint_latest_path(dir) + ": checkpoint of another run: lr 0.01"));
  other = ob;
  other.steps = 30;
  CHECK_THROWS_WITH(distill(teacher2, s2, train, held, other, true), Catch::Contains("another run: steps 20 there, 30 now"));
  TrainModel<float> s3 = TrainModel<float>::random(cfg, 13, 0.3, 0.1);
  CHECK_THROWS_WITH(distill(teacher2, s3, train, held, ob, true), Catch::Contains("another run: student "));
  const auto train2 = random_seqs(3, 24, 12, cfg.n_vocab);
  CHECK_THROWS_WITH(distill(teacher2, s2, train2, held, ob, true), Catch::Contains("another run: train "));
}
