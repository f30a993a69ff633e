// The llama.cpp quantized reference set (../shared/reference/kquants, README there): every file
// loads, `model info` lists the tensor types llama.cpp wrote (tensor-types.txt), and perplexity
// with llama-perplexity's protocol lands within 0.3% of llama.cpp's (llama-perplexity.txt) on the
// cpu backend (every file) and the ref backend (files covering every type). 0.3%: llama.cpp quantizes activations to 8 bits inside its dot
// products, this engine does not (README); a wrong scale, sign or nibble order moves PPL far more.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/core/mmap_file.h"
#include "engine/generate/perplexity.h"
#include "engine/gguf/ggml_types.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string kq_dir() { return test::shared_path("reference/kquants"); }

// llama-perplexity.txt: "<file> Final estimate: PPL = <value> +/- <stderr>" per line.
std::map<std::string, double> llama_ppl() {
  std::map<std::string, double> out;
  std::ifstream in(kq_dir() + "/llama-perplexity.txt");
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find("PPL = ");
    if (at == std::string::npos) continue;
    out[line.substr(0, line.find(' '))] = std::stod(line.substr(at + 6));
  }
  return out;
}

// tensor-types.txt: "<file>: <count> <type> <count> <type> ..." with types named as ggml names
// them (F32, Q4_K, ...) or by number (20 = IQ4_NL, 23 = IQ4_XS); returned with sparkbench's
// lower-case names.
std::map<std::string, std::map<std::string, int>> llama_types() {
  std::map<std::string, std::map<std::string, int>> out;
  std::ifstream in(kq_dir() + "/tensor-types.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string file, type;
    int count;
    if (!(s >> file)) continue;
    file.pop_back();  // ':'
    auto& m = out[file];
    while (s >> count >> type) {
      std::string name;
      if (std::isdigit(static_cast<unsigned char>(type[0])))
        name = ggml_type_name(uint32_t(std::stoul(type)));
      else
        for (char c : type) name += char(std::tolower(static_cast<unsigned char>(c)));
      m[name] += count;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("kquants: every reference file loads and model info lists llama.cpp's tensor types", "[kquants][shared]") {
  if (test::skip_without_shared()) return;
  const auto want = llama_types();
  REQUIRE(want.size() >= 14);
  for (const auto& [file, types] : want) {
    auto r = test::run_cli({"model", "info", "--json", kq_dir() + "/" + file});
    INFO(file << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["tensor_types"].get<std::map<std::string, int>>() == types);
  }
  // The text form names the new types too.
  auto r = test::run_cli({"model", "info", kq_dir() + "/kq-Q3_K_M.gguf"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("q3_k x9, q4_k x4, q5_k x2, q6_k x1") != std::string::npos);
}

// cpu runs every file; ref (about ten times slower) the files that first hold each tensor type,
// in file-name order: together they cover every type of the set (9 of the 14 files).
TEST_CASE("kquants: perplexity within 0.3% of llama-perplexity, cpu on every file, ref on files covering every type", "[kquants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string text = read_file(test::shared_path("reference/stories260k/ppl.txt"));
  const auto want = llama_ppl();
  REQUIRE(want.size() >= 14);
  std::set<std::string> ref_files, covered;
  for (const auto& [file, types] : llama_types())
    for (const auto& [type, count] : types)
      if (covered.insert(type).second) ref_files.insert(file);
  REQUIRE(covered.size() >= 13);  // f32 and 12 block types
  const auto compiled = available_backends();
  // cpu-q8: the cpu backend with --compute q8 (8-bit activations in integer products, as
  // llama.cpp computes these files).
  for (const std::string config : {"ref", "cpu", "cpu-q8"}) {
    const std::string backend = config == "ref" ? "ref" : "cpu";
    if (std::find(compiled.begin(), compiled.end(), backend) == compiled.end()) {
      WARN(backend << " backend not compiled in");
      continue;
    }
    auto be = create_backend(backend, {.threads = 2, .compute = config == "cpu-q8" ? ComputeType::Q8 : ComputeType::F32});
    for (const auto& [file, ppl] : want) {
      if (backend == "ref" && !ref_files.count(file)) continue;
      auto f = GgufFile::open(kq_dir() + "/" + file);
      auto tok = Tokenizer::from_gguf(*f);
      auto model = Model::load(f, *be);
      // llama-perplexity -c 128 -b 128 with its default f16 KV cache
      Context ctx(*model, {.n_ctx = 128, .n_batch = 128, .kv_type = DType::F16});
      const auto r = perplexity(ctx, *tok, text, PplProtocol::LlamaCpp, 128);
      const double rel = r.ppl / ppl - 1;
      INFO(config << " " << file << ": PPL " << r.ppl << " vs llama.cpp " << ppl << " (" << rel * 100 << "%)");
      std::printf("%s %s: PPL %.4f vs llama.cpp %.4f (%+.3f%%)\n", config.c_str(), file.c_str(), r.ppl, ppl, rel * 100);
      CHECK(std::fabs(rel) < 3e-3);  // NaN fails
    }
  }
}
