#include "engine/compress/variant.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "engine/core/error.h"

namespace sb::compress {
namespace {

constexpr const char* kKnown =
    "base, f32, f16, bf16, int8, q8_0, q4_0, prune:F, prune24, prune-heads:N, prune-layers:N";

const char* kind_name(WeightKind k) {
  switch (k) {
    case WeightKind::AsStored: return "";
    case WeightKind::F32: return "f32";
    case WeightKind::F16: return "f16";
    case WeightKind::BF16: return "bf16";
    case WeightKind::Q8_0: return "q8_0";
    case WeightKind::Q4_0: return "q4_0";
    case WeightKind::Int8: return "int8";
  }
  return "";
}

std::string fmt_fraction(double f) {
  // shortest decimal that reads back as the same double
  char buf[32];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, f);
    if (std::strtod(buf, nullptr) == f) break;
  }
  return buf;
}

}  // namespace

bool VariantSpec::is_base() const { return weights == WeightKind::AsStored && !pruned(); }

std::optional<GgmlType> VariantSpec::gguf_type() const {
  switch (weights) {
    case WeightKind::F32: return GgmlType::F32;
    case WeightKind::F16: return GgmlType::F16;
    case WeightKind::BF16: return GgmlType::BF16;
    case WeightKind::Q8_0: return GgmlType::Q8_0;
    case WeightKind::Q4_0: return GgmlType::Q4_0;
    default: return std::nullopt;
  }
}

std::string VariantSpec::name() const {
  if (is_base()) return "base";
  std::vector<std::string> parts;
  if (weights != WeightKind::AsStored) parts.push_back(kind_name(weights));
  if (prune_layers > 0) parts.push_back("prune-layers:" + std::to_string(prune_layers));
  if (prune_heads > 0) parts.push_back("prune-heads:" + std::to_string(prune_heads));
  if (prune_fraction > 0) parts.push_back("prune:" + fmt_fraction(prune_fraction));
  if (prune_24) parts.push_back("prune24");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "+") + p;
  return out;
}

VariantSpec parse_variant(const std::string& spec) {
  if (spec.empty()) fail("empty variant (known parts: ", kKnown, ")");
  VariantSpec v;
  bool base = false, has_type = false;
  std::set<std::string> seen;
  size_t start = 0;
  std::vector<std::string> parts;
  while (true) {
    const size_t plus = spec.find('+', start);
    parts.push_back(spec.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  auto bad = [&](const std::string& part, const std::string& why) {
    fail("variant '", spec, "': ", part.empty() ? std::string("empty part") : "'" + part + "'", " ", why);
  };
  auto integer = [&](const std::string& part, const std::string& digits) -> int64_t {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || n < 1)
      bad(part, "needs a positive whole number after ':'");
    return n;
  };
  for (const auto& part : parts) {
    if (part.empty()) bad(part, "(nothing between two '+' or at an end)");
    std::string key = part.substr(0, part.find(':'));
    if (key == "prune24") key = "prune";
    if (!seen.insert(key).second)
      bad(part, key == "prune" ? "is a second unstructured pruning (prune:F and prune24 exclude each other)" : "appears twice");
    if (part == "base") {
      base = true;
    } else if (part == "f32" || part == "f16" || part == "bf16" || part == "int8" || part == "q8_0" || part == "q4_0") {
      if (has_type) bad(part, "is a second weight type (give at most one)");
      has_type = true;
      v.weights = part == "f32" ? WeightKind::F32 : part == "f16" ? WeightKind::F16 : part == "bf16" ? WeightKind::BF16
                : part == "int8" ? WeightKind::Int8 : part == "q8_0" ? WeightKind::Q8_0 : WeightKind::Q4_0;
    } else if (part.rfind("prune:", 0) == 0) {
      const std::string num = part.substr(6);
      char* end = nullptr;
      const double f = num.empty() ? NAN : std::strtod(num.c_str(), &end);
      if (num.empty() || end != num.c_str() + num.size() || !(f >= 0.0 && f < 1.0))
        bad(part, "needs a fraction F with 0 <= F < 1 (e.g. prune:0.5)");
      v.prune_fraction = f;
    } else if (part == "prune24") {
      v.prune_24 = true;
    } else if (part.rfind("prune-heads:", 0) == 0) {
      v.prune_heads = integer(part, part.substr(12));
    } else if (part.rfind("prune-layers:", 0) == 0) {
      v.prune_layers = integer(part, part.substr(13));
    } else {
      bad(part, cat("is not a known part (known: ", kKnown, ")"));
    }
  }
  if (base && parts.size() > 1) fail("variant '", spec, "': 'base' (the weights as stored) cannot be combined with other parts");
  return v;
}

std::vector<VariantSpec> parse_variant_list(const std::string& list) {
  std::vector<VariantSpec> out;
  std::set<std::string> names;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      VariantSpec v = parse_variant(item);
      if (!names.insert(v.name()).second) fail("variant list '", list, "': '", item, "' is listed twice (as ", v.name(), ")");
      out.push_back(v);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) fail("empty variant list");
  return out;
}

const char* variant_help() {
  return "Variant spec(s), comma-separated; parts combine with '+': base (as stored), f32, f16, bf16, int8 "
         "(per-channel weights, per-token activations), q8_0, q4_0, prune:F (magnitude), prune24 (2:4), "
         "prune-heads:N, prune-layers:N; e.g. f32,int8,q4_0+prune:0.5";
}

}  // namespace sb::compress
