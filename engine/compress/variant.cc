#include "engine/compress/variant.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "engine/core/error.h"
#include "engine/gguf/file_type.h"

namespace sb::compress {
namespace {

// Every weight-type part: its spelling, the one GGUF type (pure kinds) or whether it is a
// llama.cpp mix (its LLAMA_FTYPE number comes from the file type table by name).
struct KindInfo {
  WeightKind kind;
  const char* name;
  std::optional<GgmlType> type;  // nullopt: int8 or a mix
  bool mix;
};
const KindInfo kKinds[] = {
    {WeightKind::F32, "f32", GgmlType::F32, false},     {WeightKind::F16, "f16", GgmlType::F16, false},
    {WeightKind::BF16, "bf16", GgmlType::BF16, false},  {WeightKind::Int8, "int8", std::nullopt, false},
    {WeightKind::Q8_0, "q8_0", GgmlType::Q8_0, false},  {WeightKind::Q5_1, "q5_1", GgmlType::Q5_1, false},
    {WeightKind::Q5_0, "q5_0", GgmlType::Q5_0, false},  {WeightKind::Q4_1, "q4_1", GgmlType::Q4_1, false},
    {WeightKind::Q4_0, "q4_0", GgmlType::Q4_0, false},  {WeightKind::IQ4_NL, "iq4_nl", GgmlType::IQ4_NL, false},
    {WeightKind::Q6_K, "q6_k", GgmlType::Q6_K, false},  {WeightKind::Q5_K, "q5_k", GgmlType::Q5_K, false},
    {WeightKind::Q4_K, "q4_k", GgmlType::Q4_K, false},  {WeightKind::IQ4_XS, "iq4_xs", GgmlType::IQ4_XS, false},
    {WeightKind::Q3_K, "q3_k", GgmlType::Q3_K, false},  {WeightKind::Q2_K, "q2_k", GgmlType::Q2_K, false},
    {WeightKind::Q5_K_M, "q5_k_m", std::nullopt, true}, {WeightKind::Q5_K_S, "q5_k_s", std::nullopt, true},
    {WeightKind::Q4_K_M, "q4_k_m", std::nullopt, true}, {WeightKind::Q4_K_S, "q4_k_s", std::nullopt, true},
    {WeightKind::Q3_K_L, "q3_k_l", std::nullopt, true}, {WeightKind::Q3_K_M, "q3_k_m", std::nullopt, true},
    {WeightKind::Q3_K_S, "q3_k_s", std::nullopt, true},
};

const KindInfo* kind_info(WeightKind k) {
  for (const auto& i : kKinds)
    if (i.kind == k) return &i;
  return nullptr;
}

const KindInfo* kind_info(const std::string& name) {
  for (const auto& i : kKinds)
    if (name == i.name) return &i;
  return nullptr;
}

const std::string& known_parts() {
  static const std::string s = [] {
    std::string out = "base";
    for (const auto& i : kKinds) out += std::string(", ") + i.name;
    return out + ", prune:F, prune24, prune-heads:N, prune-layers:N, distill:STEPS";
  }();
  return s;
}

const char* kind_name(WeightKind k) {
  const KindInfo* i = kind_info(k);
  return i ? i->name : "";
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

bool VariantSpec::is_base() const { return weights == WeightKind::AsStored && !pruned() && !distills(); }

VariantSpec VariantSpec::pruning_part() const {
  VariantSpec v = *this;
  v.weights = WeightKind::AsStored;
  v.distill_steps = 0;
  return v;
}

VariantSpec VariantSpec::weights_part() const {
  VariantSpec v;
  v.weights = weights;
  return v;
}

std::optional<GgmlType> VariantSpec::gguf_type() const {
  const KindInfo* i = kind_info(weights);
  return i ? i->type : std::nullopt;
}

std::optional<int> VariantSpec::llama_mix() const {
  const KindInfo* i = kind_info(weights);
  if (!i || !i->mix) return std::nullopt;
  return find_llama_file_type(i->name)->id;
}

std::optional<int> VariantSpec::file_type() const {
  if (auto m = llama_mix()) return m;
  if (auto t = gguf_type()) return llama_file_type_of(*t);
  return std::nullopt;
}

std::string VariantSpec::name() const {
  if (is_base()) return "base";
  std::vector<std::string> parts;
  if (weights != WeightKind::AsStored) parts.push_back(kind_name(weights));
  if (prune_layers > 0) parts.push_back("prune-layers:" + std::to_string(prune_layers));
  if (prune_heads > 0) parts.push_back("prune-heads:" + std::to_string(prune_heads));
  if (prune_fraction > 0) parts.push_back("prune:" + fmt_fraction(prune_fraction));
  if (prune_24) parts.push_back("prune24");
  if (distill_steps > 0) parts.push_back("distill:" + std::to_string(distill_steps));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "+") + p;
  return out;
}

VariantSpec parse_variant(const std::string& spec) {
  if (spec.empty()) fail("empty variant (known parts: ", known_parts(), ")");
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
    } else if (const KindInfo* ki = kind_info(part)) {
      if (has_type) bad(part, "is a second weight type (give at most one)");
      has_type = true;
      v.weights = ki->kind;
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
    } else if (part.rfind("distill:", 0) == 0) {
      v.distill_steps = integer(part, part.substr(8));
    } else {
      bad(part, cat("is not a known part (known: ", known_parts(), ")"));
    }
  }
  if (base && parts.size() > 1) fail("variant '", spec, "': 'base' (the weights as stored) cannot be combined with other parts");
  if (v.distills() && !v.pruned())
    fail("variant '", spec, "': 'distill:", v.distill_steps,
         "' needs a pruning part to heal (prune-layers:N, prune-heads:N, prune:F or prune24), e.g. prune-layers:1+distill:400");
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
         "(per-channel weights, per-token activations), one GGUF type for every matrix (q8_0, q5_1, q5_0, q4_1, q4_0, "
         "iq4_nl, q6_k, q5_k, q4_k, iq4_xs, q3_k, q2_k), a llama.cpp mix (q5_k_m, q5_k_s, q4_k_m, q4_k_s, q3_k_l, "
         "q3_k_m, q3_k_s), prune:F (magnitude), prune24 (2:4), prune-heads:N, prune-layers:N, distill:STEPS (after pruning: the student "
         "trained on the base model's outputs, cached; a weight type converts the distilled student); "
         "e.g. f32,int8,q4_k_m,q4_0+prune:0.5,prune-layers:1+distill:400";
}

}  // namespace sb::compress
