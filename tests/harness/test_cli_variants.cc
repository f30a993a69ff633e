// Variant sweeps end to end: `run --variant LIST` (one run per variant in one group, fidelity
// metrics stored, the combined table and JSON), `bench --variant`, `model quantize|prune`, and
// `--variant` on logits / perplexity / generate.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "engine/gguf/gguf.h"
#include "engine/model/plg.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::vector<std::vector<std::string>> query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> r;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        r.push_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(r);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

}  // namespace

TEST_CASE("cli run: a variant sweep stores one run per variant with fidelity and prints one table", "[cli][run][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("variants-run") + "/v.db";
  const std::vector<std::string> args{"run",
                                      "-m",
                                      test::shared_path("models/stories260K.gguf"),
                                      "--variant",
                                      "f32,q8_0,prune:0.5",
                                      "--suite",
                                      "stories",
                                      "--limit",
                                      "10",
                                      "--db",
                                      db,
                                      "-t",
                                      "2",
                                      "--speed-prompt",
                                      "16",
                                      "--speed-gen",
                                      "4"};
  auto args_json = args;
  args_json.push_back("--json");
  auto r = test::run_cli(args_json);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 3);
  CHECK(j[0]["variant"] == "f32");
  CHECK(j[1]["variant"] == "q8_0");
  CHECK(j[2]["variant"] == "prune:0.5");
  // f32 on an f32 model is the stored model: zero divergence
  CHECK(j[0]["kld_mean"].get<double>() == Approx(0).margin(1e-12));
  CHECK(j[1]["kld_mean"].get<double>() > 0);
  CHECK(j[1]["kld_mean"].get<double>() < j[2]["kld_mean"].get<double>());
  CHECK(j[2]["fidelity"]["same_top1"].get<double>() < j[1]["fidelity"]["same_top1"].get<double>());
  CHECK(j[1]["model_bytes"].get<int64_t>() < j[0]["model_bytes"].get<int64_t>());
  CHECK(j[2]["model_bytes"] == j[0]["model_bytes"]);  // unstructured pruning: same size
  CHECK(j[1]["speed"]["decode_ts"].get<double>() > 0);
  CHECK(j[1]["speed"]["prompt_ms"].get<double>() > 0);
  CHECK(j[1]["speed"]["n_depth"] == 0);
  CHECK(j[2]["notes"].dump().find("changes accuracy only") != std::string::npos);
  CHECK(j[0]["suites"]["stories"]["metrics"]["acc"]["n"] == 10);
  // one group, three variants, fidelity metrics under the task "fidelity", speed rows
  auto runs = query(db, "SELECT DISTINCT group_id FROM runs");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0][0].size() == 16);
  CHECK(query(db, "SELECT variant FROM runs ORDER BY id") == std::vector<std::vector<std::string>>{{"f32"}, {"q8_0"}, {"prune:0.5"}});
  for (const char* m : {"kld_mean", "kld_median", "kld_p99", "kld_max", "same_top1", "ppl_delta", "ppl_ratio", "rms_dp"})
    CHECK(query(db, std::string("SELECT COUNT(*) FROM metrics WHERE task = 'fidelity' AND metric = '") + m + "'")[0][0] == "3");
  CHECK(query(db, "SELECT COUNT(*) FROM speed")[0][0] == "6");
  // the human table: one line per variant with the fidelity and size columns
  auto t = test::run_cli(args);
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("KLD mean") != std::string::npos);
  CHECK(t.out.find("same top1") != std::string::npos);
  CHECK(t.out.find("tg t/s") != std::string::npos);
  CHECK(t.out.find("note [prune:0.5]") != std::string::npos);
  // bad specs fail before any work with the offending part named
  auto bad = test::run_cli(
      {"run", "-m", test::shared_path("models/stories260K.gguf"), "--variant", "q4_0+prun:0.5", "--suite", "stories", "--db", db});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("'prun:0.5' is not a known part") != std::string::npos);
}

TEST_CASE("cli run: the sweep's speed rows are the bench tests they are named for, and int8's size is its own",
          "[cli][run][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("variants-probe") + "/v.db";
  const std::string model = test::shared_path("models/stories260K.gguf");
  // The model's context is 2048: pp1500 and tg600 each fit (as `bench -p 1500 -n 600` does), a
  // decode measured after the prompt (2100 positions) would not.
  auto r = test::run_cli({"run", "-m", model, "--variant", "q8_0,int8", "--suite", "stories", "--limit", "2", "--db", db, "-t", "1",
                          "--no-fidelity", "--speed-prompt", "1500", "--speed-gen", "600", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(query(db, "SELECT test, n_prompt, n_gen, n_depth FROM speed ORDER BY id") ==
        std::vector<std::vector<std::string>>{
            {"pp1500", "1500", "0", "0"}, {"tg600", "0", "600", "0"}, {"pp1500", "1500", "0", "0"}, {"tg600", "0", "600", "0"}});
  // int8's size is its matrices as loaded: one byte per weight plus an f32 scale per row, the
  // embedding table as stored (whatever extra layouts a backend keeps: peak memory shows those).
  CHECK(j[1]["variant"] == "int8");
  auto file = GgufFile::open(model);
  int64_t expect = 0;
  for (const auto& t : file->tensors()) {
    if (t.ne.size() != 2 || t.ne[1] == 1) continue;  // norms and biases are not matrices
    expect += t.name == "token_embd.weight" ? int64_t(t.nbytes) : t.ne[1] * (t.ne[0] + 4);
  }
  CHECK(j[1]["model_bytes"].get<int64_t>() == expect);
}

TEST_CASE("cli bench: --variant measures each variant and labels its rows", "[cli][bench][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string db = test::temp_dir("variants-bench") + "/b.db";
  auto r = test::run_cli({"bench", "-m", test::shared_path("models/stories260K.gguf"), "--variant", "f32,int8,prune-layers:2", "-p", "16",
                          "-n", "4", "-r", "1", "-t", "1", "--output", "json", "--db", db});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 6);
  CHECK(j[0]["variant"] == "f32");
  CHECK(j[2]["variant"] == "int8");
  CHECK(j[2]["model_type"].get<std::string>().find("int8") != std::string::npos);
  CHECK(j[2]["model_size"].get<int64_t>() < j[0]["model_size"].get<int64_t>());
  CHECK(j[4]["variant"] == "prune-layers:2");
  CHECK(j[4]["model_type"].get<std::string>().find("3L") != std::string::npos);
  CHECK(query(db, "SELECT variant FROM runs ORDER BY id") == std::vector<std::vector<std::string>>{{"f32"}, {"int8"}, {"prune-layers:2"}});
  CHECK(query(db, "SELECT COUNT(DISTINCT group_id) FROM runs")[0][0] == "1");
  auto bad = test::run_cli({"bench", "-m", test::shared_path("models/stories260K.gguf"), "--variant", "q4_0,q4_0", "-p", "8"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("listed twice") != std::string::npos);
}

TEST_CASE("cli model quantize and prune write variant files", "[cli][model][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("variants-model");
  const std::string in = test::shared_path("models/stories260K.gguf");
  auto q = test::run_cli({"model", "quantize", "-m", in, "-o", dir + "/q8.gguf", "--variant", "q8_0", "--json"});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  auto j = nlohmann::json::parse(q.out);
  CHECK(j["variant"] == "q8_0");
  CHECK(j["tensor_types"]["q8_0"].get<int>() > 30);
  CHECK(j["file_bytes"].get<int64_t>() < j["source_bytes"].get<int64_t>() / 2);
  auto p = test::run_cli({"model", "prune", "-m", in, "-o", dir + "/pl.gguf", "--variant", "prune-layers:1+prune-heads:2", "--json"});
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  auto pj = nlohmann::json::parse(p.out);
  CHECK(pj["hparams"]["n_layer"] == 4);
  CHECK(pj["hparams"]["n_head"] == 6);
  CHECK(pj["hparams"]["n_head_kv"] == 3);
  CHECK(pj["hparams"]["head_dim"] == 8);
  CHECK(pj["removed_layers"].size() == 1);
  // the pruned file generates text
  auto g = test::run_cli({"generate", "-m", dir + "/pl.gguf", "-p", "Once upon a time", "-n", "8"});
  CHECK(g.exit_code == 0);
  // wrong kinds and formats are one-line errors
  auto e1 = test::run_cli({"model", "quantize", "-m", in, "-o", dir + "/x.gguf", "--variant", "int8"});
  CHECK(e1.exit_code == 1);
  CHECK(e1.err.find("int8 is an in-memory format") != std::string::npos);
  auto e2 = test::run_cli({"model", "prune", "-m", in, "-o", dir + "/x.gguf", "--variant", "q4_0"});
  CHECK(e2.exit_code == 1);
  CHECK(e2.err.find("prunes nothing") != std::string::npos);
  auto e3 = test::run_cli({"model", "quantize", "-m", in, "-o", dir + "/x.gguf", "--variant", "prune:0.5"});
  CHECK(e3.exit_code == 1);
  CHECK(e3.err.find("names no weight type") != std::string::npos);
  auto e4 = test::run_cli({"model", "prune", "-m", in, "-o", dir + "/x.gguf", "--variant", "prune-heads:3"});
  CHECK(e4.exit_code == 1);
  CHECK(e4.err.find("multiple of 2") != std::string::npos);
}

TEST_CASE("cli run and bench: llama.cpp types and mixes as variants", "[cli][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string model = test::shared_path("reference/kquants/kq-base.gguf");
  auto r = test::run_cli({"run", "-m", model, "--variant", "q6_k,q4_k_m,q2_k", "--suite", "stories", "--limit", "2", "--no-speed", "--db",
                          test::temp_dir("variants-kq") + "/v.db", "-t", "2", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.size() == 3);
  CHECK(j[1]["variant"] == "q4_k_m");
  CHECK(j[0]["kld_mean"].get<double>() > 0);
  CHECK(j[0]["kld_mean"].get<double>() < j[1]["kld_mean"].get<double>());
  CHECK(j[1]["kld_mean"].get<double>() < j[2]["kld_mean"].get<double>());
  CHECK(j[2]["model_bytes"].get<int64_t>() < j[1]["model_bytes"].get<int64_t>());
  auto b = test::run_cli(
      {"bench", "-m", model, "--variant", "q4_k_m+prune:0.5", "-p", "8", "-n", "2", "-r", "1", "-t", "1", "--output", "json"});
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  auto bj = nlohmann::json::parse(b.out);
  REQUIRE(bj.size() == 2);
  CHECK(bj[0]["variant"] == "q4_k_m+prune:0.5");
  CHECK(bj[0]["model_type"].get<std::string>().find("q4_k_m") != std::string::npos);
}

TEST_CASE("cli logits, perplexity and generate: --variant runs the variant (as model quantize writes it)", "[cli][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("variants-run-one");
  const std::string in = test::shared_path("models/stories260K.gguf");
  auto q = test::run_cli({"model", "quantize", "-m", in, "-o", dir + "/q8.gguf", "--variant", "q8_0"});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  // logits of the in-memory variant = logits of the written file; both differ from the base's
  const std::vector<std::string> common = {"-p", "Once upon a time", "-n", "6", "-t", "1"};
  auto run = [&](std::vector<std::string> args, const std::string& out) {
    args.insert(args.begin(), "logits");
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), {"-o", dir + "/" + out});
    auto r = test::run_cli(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return read_plg(dir + "/" + out);
  };
  const PlgDump mem = run({"-m", in, "--variant", "q8_0"}, "mem.plg"), file = run({"-m", dir + "/q8.gguf"}, "file.plg"),
                base = run({"-m", in}, "base.plg");
  CHECK(mem.tokens == file.tokens);
  REQUIRE(mem.logits.size() == file.logits.size());
  CHECK(std::memcmp(mem.logits.data(), file.logits.data(), mem.logits.size() * sizeof(float)) == 0);
  REQUIRE(base.logits.size() == mem.logits.size());
  CHECK(std::memcmp(base.logits.data(), mem.logits.data(), mem.logits.size() * sizeof(float)) != 0);
  // perplexity of the int8 variant: its own figure, close to the base's
  const std::string text = dir + "/text.txt";
  {
    std::ofstream t(text);
    for (int i = 0; i < 8; ++i)
      t << "Once upon a time, there was a little girl named Lily. She liked to play in the park with her friends. ";
  }
  auto ppl = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"perplexity", "-m", in, "-f", text, "-c", "64", "--json", "-t", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = test::run_cli(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out)["ppl"].get<double>();
  };
  const double p_base = ppl({}), p_int8 = ppl({"--variant", "int8"});
  CHECK(p_int8 != p_base);
  CHECK(std::fabs(p_int8 / p_base - 1) < 0.05);
  // generate runs a pruned variant; a bad spec is one error naming it
  auto g = test::run_cli({"generate", "-m", in, "--variant", "prune-heads:2", "-p", "Once upon a time", "-n", "4", "-t", "1"});
  CHECK(g.exit_code == 0);
  auto bad = test::run_cli({"generate", "-m", in, "--variant", "q9_9", "-p", "x", "-n", "1"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("q9_9") != std::string::npos);
}

TEST_CASE("cli logits --variant int8: the cpu backend's fused decode blocks give the op sequence's logits bit for bit",
          "[cli][variants][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("variants-int8-fused");
  const std::string in = test::shared_path("models/stories260K.gguf");
  auto run = [&](const std::string& out) {
    auto r = test::run_cli({"logits", "-m", in, "--variant", "int8", "--backend", "cpu", "-p", "Once upon a time", "-n", "12", "-t", "2",
                            "-o", dir + "/" + out});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return read_plg(dir + "/" + out);
  };
  const PlgDump fused = run("fused.plg");
  ::setenv("SPARKBENCH_CPU_FUSE", "0", 1);  // the child inherits it
  const PlgDump seq = run("seq.plg");
  ::unsetenv("SPARKBENCH_CPU_FUSE");
  CHECK(fused.tokens == seq.tokens);
  REQUIRE(fused.logits.size() == seq.logits.size());
  CHECK(std::memcmp(fused.logits.data(), seq.logits.data(), seq.logits.size() * sizeof(float)) == 0);
}
