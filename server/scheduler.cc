#include "server/scheduler.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/generate/stop_text.h"

namespace sb::serve {

using clock = std::chrono::steady_clock;

bool Job::next(Event& ev, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  if (!cv_.wait_for(l, timeout, [&] { return !events_.empty(); })) return false;
  ev = std::move(events_.front());
  events_.pop_front();
  return true;
}

void Job::push(Event ev) {
  {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

struct Scheduler::Slot {
  std::unique_ptr<Sequence> seq;
  bool busy = false;
  uint64_t order = 0;
  std::shared_ptr<Job> job;
  int idx = 0;
  const SeqSpec* spec = nullptr;
  int64_t prompt_done = 0;
  std::vector<int32_t> history;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StopText> text;
  std::vector<TokenLogprob> prompt_lp;
  int n_gen = 0;
  int32_t next = -1;
  clock::time_point t_arrival, t_first, t_last;
  bool prefilling() const { return prompt_done < int64_t(spec->prompt.size()); }
};

Scheduler::Scheduler(const Model& model, const Tokenizer& tok, const SchedulerOptions& opt, Metrics& metrics)
    : model_(model),
      tok_(tok),
      metrics_(metrics),
      chunk_(std::max<int64_t>(1, opt.prefill_chunk)),
      batch_(model, int64_t(std::max(1, opt.parallel)) + std::max<int64_t>(1, opt.prefill_chunk), opt.ctx) {
  for (int i = 0; i < std::max(1, opt.parallel); ++i) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->seq = batch_.new_sequence();
  }
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    const auto now = clock::now();
    for (int i = 0; i < int(job->seqs.size()); ++i) queue_.push_back({job, i, now});
    metrics_.gauges(running_, int64_t(queue_.size()));
  }
  cv_.notify_one();
}

void Scheduler::drain() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [&] { return stop_ || (queue_.empty() && running_ == 0); });
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  idle_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  Event ev;
  ev.error = "the server is shutting down";
  for (auto& p : queue_) {
    ev.seq = p.seq;
    p.job->push(ev);
  }
  queue_.clear();
  for (auto& s : slots_)
    if (s->busy) {
      ev.seq = s->idx;
      s->job->push(ev);
      s->busy = false;
      s->job.reset();
      --running_;
    }
}

TokenLogprob Scheduler::make_lp(const float* row, int32_t id, int top) const {
  const int64_t V = model_.config().n_vocab;
  double mx = row[0];
  for (int64_t i = 1; i < V; ++i) mx = std::max(mx, double(row[i]));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
  const double lse = mx + std::log(sum);
  TokenLogprob lp;
  lp.id = id;
  lp.logprob = double(row[id]) - lse;
  if (top > 0) {
    std::vector<int32_t> idx(static_cast<size_t>(V));
    for (int64_t i = 0; i < V; ++i) idx[size_t(i)] = int32_t(i);
    const int64_t k = std::min<int64_t>(top, V);
    // largest first, ties to the lower id; NaN sorts last
    auto better = [&](int32_t a, int32_t b) {
      const float x = row[a], y = row[b];
      const bool nx = std::isnan(x), ny = std::isnan(y);
      if (nx || ny) return nx == ny ? a < b : ny;
      return x > y || (x == y && a < b);
    };
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
    for (int64_t i = 0; i < k; ++i) lp.top.push_back({idx[size_t(i)], double(row[idx[size_t(i)]]) - lse});
  }
  return lp;
}

void Scheduler::finish(Slot& s, const std::string& reason) {
  const double total = std::chrono::duration<double>(clock::now() - s.t_arrival).count();
  const double ttft = std::chrono::duration<double>(s.t_first - s.t_arrival).count();
  const double tpot = s.n_gen >= 2 ? std::chrono::duration<double>(s.t_last - s.t_first).count() / (s.n_gen - 1) : 0.0;
  metrics_.sequence_done(ttft, tpot, s.n_gen, total);
  (void)reason;
  s.busy = false;
  s.job.reset();
  s.sampler.reset();
  s.text.reset();
  std::lock_guard<std::mutex> l(mu_);
  --running_;
  metrics_.gauges(running_, int64_t(queue_.size()));
}

void Scheduler::loop() {
  uint64_t order = 0;
  for (;;) {
    std::vector<Slot*> active;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !queue_.empty() || running_ > 0; });
      if (stop_) return;
      // drop what was cancelled while waiting
      queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [](const Pending& p) { return p.job->cancelled(); }), queue_.end());
      for (auto& sp : slots_) {
        if (queue_.empty()) break;
        if (sp->busy) continue;
        Slot& s = *sp;
        Pending p = std::move(queue_.front());
        queue_.pop_front();
        s.busy = true;
        s.order = order++;
        s.job = p.job;
        s.idx = p.seq;
        s.spec = &p.job->seqs[size_t(p.seq)];
        s.seq->rewind(0);
        s.prompt_done = 0;
        s.history = s.spec->prompt;
        s.sampler = std::make_unique<Sampler>(s.spec->sampling);
        s.text = std::make_unique<StopText>(tok_, s.spec->stop);
        s.prompt_lp.clear();
        s.n_gen = 0;
        s.next = -1;
        s.t_arrival = p.t_arrival;
        ++running_;
      }
      metrics_.gauges(running_, int64_t(queue_.size()));
    }
    for (auto& sp : slots_) {
      if (!sp->busy) continue;
      if (sp->job->cancelled()) {
        finish(*sp, "cancelled");
        continue;
      }
      active.push_back(sp.get());
    }
    if (!active.empty()) step(active);
    {
      std::lock_guard<std::mutex> l(mu_);
      metrics_.gauges(running_, int64_t(queue_.size()));
      if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
    }
  }
}

void Scheduler::step(std::vector<Slot*>& active) {
  const int64_t V = model_.config().n_vocab;
  std::vector<BatchContext::Item> items;
  std::vector<Slot*> owners;
  // decodes first: one row each
  for (Slot* s : active)
    if (!s->prefilling()) {
      items.push_back({s->seq.get(), &s->next, 1, 0});
      owners.push_back(s);
    }
  // then prompt chunks, oldest sequence first
  std::vector<Slot*> pre;
  for (Slot* s : active)
    if (s->prefilling()) pre.push_back(s);
  std::sort(pre.begin(), pre.end(), [](const Slot* a, const Slot* b) { return a->order < b->order; });
  int64_t budget = chunk_;
  for (Slot* s : pre) {
    if (budget <= 0) break;
    const int64_t P = int64_t(s->spec->prompt.size());
    const int64_t n = std::min(P - s->prompt_done, budget);
    const bool completes = s->prompt_done + n == P;
    int64_t from = n;
    if (s->spec->prompt_logprobs)
      from = 0;
    else if (completes && s->spec->max_tokens > 0)
      from = n - 1;
    items.push_back({s->seq.get(), s->spec->prompt.data() + s->prompt_done, n, from});
    owners.push_back(s);
    budget -= n;
  }
  std::vector<float> logits;
  try {
    batch_.eval(items, logits);
  } catch (const std::exception& e) {
    for (Slot* s : owners) {
      Event ev;
      ev.seq = s->idx;
      ev.error = std::string("engine: ") + e.what();
      std::shared_ptr<Job> job = s->job;
      finish(*s, "error");  // the slot is free before the client hears of it
      job->push(std::move(ev));
    }
    return;
  }
  const clock::time_point now = clock::now();
  size_t row = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    Slot& s = *owners[i];
    const BatchContext::Item& it = items[i];
    const float* rows = logits.data() + row * size_t(V);
    row += size_t(it.n - it.logits_from);
    const SeqSpec& spec = *s.spec;
    const float* sample_row = nullptr;
    Event ev;
    ev.seq = s.idx;
    if (s.prefilling()) {
      const int64_t P = int64_t(spec.prompt.size());
      if (spec.prompt_logprobs)  // row r (prompt position a + r) predicts prompt token a + r + 1
        for (int64_t r = 0; r < it.n && s.prompt_done + r + 1 < P; ++r)
          s.prompt_lp.push_back(make_lp(rows + r * V, spec.prompt[size_t(s.prompt_done + r + 1)], std::max(0, spec.logprobs)));
      s.prompt_done += it.n;
      if (s.prefilling()) continue;
      metrics_.tokens(P, 0);
      if (spec.prompt_logprobs) {
        ev.prompt_lp = std::move(s.prompt_lp);
        ev.has_prompt_lp = true;
      }
      if (spec.max_tokens == 0) {
        s.t_first = s.t_last = now;
        ev.finish = "length";
        std::shared_ptr<Job> job = s.job;
        finish(s, "length");
        job->push(std::move(ev));
        continue;
      }
      sample_row = rows + (it.n - 1 - it.logits_from) * V;
    } else {
      sample_row = rows;
    }
    const int32_t id = s.sampler->sample(sample_row, V, s.history);
    if (spec.logprobs >= 0) ev.lp = make_lp(sample_row, id, spec.logprobs);
    ev.token = id;
    if (s.n_gen == 0) s.t_first = now;
    s.t_last = now;
    ++s.n_gen;
    s.history.push_back(id);
    metrics_.tokens(0, 1);
    std::string reason;
    if (!spec.ignore_eos && tok_.is_eog(id)) {
      s.text->end();
      reason = "stop";
    } else if (s.text->push(id)) {
      reason = "stop";
    } else if (s.n_gen >= spec.max_tokens || s.seq->pos() >= s.seq->n_ctx()) {
      reason = "length";
    }
    ev.text = s.text->release(!reason.empty());
    ev.finish = reason;
    std::shared_ptr<Job> job = s.job;
    if (!reason.empty())
      finish(s, reason);  // the slot is free before the client hears of it
    else
      s.next = id;
    job->push(std::move(ev));
  }
}

}  // namespace sb::serve
