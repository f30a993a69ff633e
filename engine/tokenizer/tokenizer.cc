// Tokenizer: the model-independent part (factory, special-token partition, pieces, decode).
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/vocab.h"

namespace sb {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  const GgufValue* m = f.find("tokenizer.ggml.model");
  if (!m) fail(f.name(), ": no tokenizer in this file (metadata 'tokenizer.ggml.model' is missing)");
  const std::string model = m->as_string(cat(f.name(), ": metadata 'tokenizer.ggml.model'"));
  if (model == "llama") {
    auto v = tok::load_vocab(f, /*is_spm=*/true);
    v->add_bos = true;
    tok::finish_vocab(*v, f);
    return tok::make_spm_tokenizer(std::move(v));
  }
  if (model == "gpt2") return tok::make_bpe_tokenizer(tok::load_vocab(f, /*is_spm=*/false), f);
  fail(f.name(), ": metadata 'tokenizer.ggml.model' = '", model, "' is not supported (supported: llama, gpt2)");
}

Tokenizer::Tokenizer(std::unique_ptr<tok::Vocab> vocab) : v_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= v_->n()) fail("token id ", id, " is out of range (the vocab has ", v_->n(), " tokens)");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && v_->bos >= 0) out.push_back(v_->bos);
  if (text.empty()) return out;
  if (text.size() > kMaxTextBytes) fail("text of ", text.size(), " bytes is too long to tokenize (limit ", kMaxTextBytes, ")");
  std::vector<tok::Fragment> frags;
  tok::partition_special(*v_, text, parse_special, frags);
  bool after_special = true;
  for (const auto& fr : frags) {
    if (fr.token >= 0) {
      out.push_back(fr.token);
      after_special = true;
    } else {
      encode_fragment(text.substr(fr.offset, fr.length), after_special, out);
      after_special = false;
    }
  }
  return out;
}

std::vector<int32_t> Tokenizer::encode_chat(std::string_view text) const {
  std::vector<int32_t> out = encode(text, false, true);
  if (add_bos_default() && v_->bos >= 0 && (out.empty() || out.front() != v_->bos)) out.insert(out.begin(), v_->bos);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  check_id(id);
  return v_->piece[size_t(id)];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool strip = v_->add_space_prefix;
  for (int32_t id : ids) {
    check_id(id);
    const std::string& p = v_->piece[size_t(id)];
    if (p.empty()) continue;
    if (strip && p[0] == ' ')
      out.append(p, 1, std::string::npos);
    else
      out += p;
    strip = false;
  }
  return out;
}

int32_t Tokenizer::n_vocab() const { return v_->n(); }
int32_t Tokenizer::bos_id() const { return v_->bos; }
int32_t Tokenizer::eos_id() const { return v_->eos; }
int32_t Tokenizer::unk_id() const { return v_->unk; }
int32_t Tokenizer::pad_id() const { return v_->pad; }
int32_t Tokenizer::eot_id() const { return v_->eot; }
bool Tokenizer::add_bos_default() const { return v_->add_bos; }
bool Tokenizer::add_space_prefix() const { return v_->add_space_prefix; }

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(v_->eog.begin(), v_->eog.end(), id); }

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return v_->text[size_t(id)];
}

TokenAttr Tokenizer::attr(int32_t id) const {
  check_id(id);
  return v_->attr[size_t(id)];
}

std::string Tokenizer::kind() const { return v_->model == "llama" ? "spm" : "bpe"; }
std::string Tokenizer::pre() const { return v_->pre; }

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = v_->find(text);
  if (id < 0) return std::nullopt;
  return id;
}

}  // namespace sb
