// Screenshot of the HTML report in headless Chromium: the page renders (a PNG of the requested
// size that is not blank, with the chart colors present). Skipped where Chromium is not
// installed; CI installs it (scripts/setup.sh).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "engine/core/mmap_file.h"
#include "reports/report_data.h"
#include "reports/report_html.h"
#include "tests/reports/report_test_util.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

std::string find_on_path(const std::vector<std::string>& names) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string p = path;
  for (const auto& n : names) {
    size_t b = 0;
    while (b <= p.size()) {
      size_t e = p.find(':', b);
      if (e == std::string::npos) e = p.size();
      const std::string cand = (e > b ? p.substr(b, e - b) : ".") + "/" + n;
      if (::access(cand.c_str(), X_OK) == 0 && !std::filesystem::is_directory(cand)) return cand;
      b = e + 1;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("report screenshot: headless Chromium renders the page with its charts", "[report][screenshot]") {
  const std::string chromium = find_on_path({"chromium", "chromium-browser"});
  if (chromium.empty()) {
    test::skip("chromium is not installed (CI installs it via scripts/setup.sh)");
    return;
  }
  const std::string dir = test::temp_dir("report-screenshot");
  const auto db = test::make_report_db(dir + "/r.db");
  auto store = Store::open(db.path);
  const auto data = report::load_report(*store, db.path, {});
  const std::string html = report::render_html(data);
  const std::string page = dir + "/report.html", png = dir + "/shot.png";
  write_file_atomic(page, html.data(), html.size());
  // A private profile directory and HOME keep Chromium away from the user's own profile.
  auto r =
      test::run_process({"timeout", "180", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                         "--user-data-dir=" + dir + "/profile", "--screenshot=" + png, "--window-size=1280,2000", "file://" + page});
  INFO("chromium: " << r.err.substr(0, 2000));
  REQUIRE(std::filesystem::exists(png));
  const test::Png img = test::decode_png(test::read_text(png));
  CHECK(img.width == 1280);
  CHECK(img.height == 2000);
  // Not blank: many distinct colors, a good share of non-white pixels, and the Okabe-Ito blue of
  // the first configuration somewhere (markers, bars and the section rules use it).
  std::set<uint32_t> colors;
  size_t non_white = 0, blue = 0, n = size_t(img.width) * img.height;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* px = &img.pixels[i * size_t(img.channels)];
    const uint8_t R = px[0], G = img.channels >= 3 ? px[1] : px[0], B = img.channels >= 3 ? px[2] : px[0];
    colors.insert(uint32_t(R) << 16 | uint32_t(G) << 8 | B);
    if (R < 245 || G < 245 || B < 245) ++non_white;
    if (std::abs(R - 0x00) < 24 && std::abs(G - 0x72) < 24 && std::abs(B - 0xB2) < 24) ++blue;
  }
  INFO("distinct colors " << colors.size() << ", non-white " << non_white << ", blue " << blue);
  CHECK(colors.size() > 50);
  CHECK(non_white > n / 50);
  CHECK(blue > 100);
}
