// harness/speed_probe: every test starts from the probe's depth and records the lengths and depth
// it measured (a tg row is decode from depth d, never decode after a prompt); the quick probe of
// `run --variant` sweeps is pp and tg at depth 0. Times are never asserted, only counted.
#include <catch2/catch.hpp>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/model/model.h"
#include "harness/speed_probe.h"
#include "tests/test_support.h"

using namespace sb;
using namespace sb::cli;

TEST_CASE("speed probe: tests run at the probe's depth and say what they measured", "[bench][unit]") {
  auto file = GgufFile::open(test::preset_model("phi3-tiny"));
  auto be = create_backend("ref");
  auto model = Model::load(file, *be);
  ContextOptions co;
  co.n_ctx = 8 + 16;
  Context ctx(*model, co);
  SpeedProbe probe(*model, ctx, 7, 8);
  probe.prefill_depth();
  CHECK(ctx.pos() == 8);

  const SpeedResult pp = probe.run_pp(16, 2);
  CHECK(ctx.pos() == 8 + 16);  // the last repetition ran from the depth
  CHECK(pp.test == "pp16");
  CHECK(pp.n_prompt == 16);
  CHECK(pp.n_gen == 0);
  CHECK(pp.n_depth == 8);
  CHECK(pp.repetitions == 2);
  CHECK(pp.samples_ns.size() == 2);
  CHECK(pp.samples_ts.size() == 2);

  const SpeedResult tg = probe.run_tg(5, 3);
  CHECK(ctx.pos() == 8 + 5);  // decode from the depth, not after the prompt
  CHECK(tg.test == "tg5");
  CHECK(tg.n_prompt == 0);
  CHECK(tg.n_gen == 5);
  CHECK(tg.n_depth == 8);
  CHECK(tg.repetitions == 3);
  CHECK(tg.tpot_ms.has_value());
  CHECK(tg.p99_ms.has_value());

  const SpeedResult pg = probe.run_pg(6, 3, 1);
  CHECK(ctx.pos() == 8 + 6 + 2);  // the prompt, then N - 1 decode steps after the first token
  CHECK(pg.test == "pp6+tg3");
  CHECK(pg.n_prompt == 6);
  CHECK(pg.n_gen == 3);
  CHECK(pg.n_depth == 8);
  CHECK(pg.ttft_ms.has_value());
  CHECK_THROWS_AS(probe.run_pp(4, 0), Error);
}

TEST_CASE("speed probe: the quick probe is pp and tg at depth 0", "[bench][unit]") {
  auto file = GgufFile::open(test::preset_model("phi3-tiny"));
  auto be = create_backend("ref");
  auto model = Model::load(file, *be);
  const QuickSpeed q = quick_speed(*model, ContextOptions{}, 16, 6, 1);
  CHECK(q.pp.test == "pp16");
  CHECK(q.pp.n_prompt == 16);
  CHECK(q.pp.n_gen == 0);
  CHECK(q.pp.n_depth == 0);
  CHECK(q.tg.test == "tg6");
  CHECK(q.tg.n_prompt == 0);
  CHECK(q.tg.n_gen == 6);
  CHECK(q.tg.n_depth == 0);
  const SpeedRow row = speed_row(q.tg);
  CHECK(row.test == q.tg.test);
  CHECK(row.n_gen == q.tg.n_gen);
  CHECK(row.n_depth == 0);
  CHECK(row.samples_ts == q.tg.samples_ts);
  // A test longer than the model's context is refused before any work.
  CHECK_THROWS_AS(quick_speed(*model, ContextOptions{}, model->config().n_ctx + 1, 1, 1), Error);
}
