// Scheduler: continuous batching of completion requests over one model (engine/model/batch.h).
//
// One scheduler thread owns the engine. HTTP handler threads submit() a Job (one or more
// sequences: OpenAI's `n` choices and prompt lists) and read its events from the Job's own
// queue (Job::next). Each step the thread:
//   1. moves waiting sequences into free slots (at most `parallel` sequences run at once,
//      first come first served; the rest wait, counted as the queue depth);
//   2. builds one batch: one row per decoding sequence, then prompt chunks of sequences still
//      reading their prompt, at most `prefill_chunk` prompt rows per step, oldest first, so a
//      long prompt never stalls running decodes for more than one chunk;
//   3. runs it as one forward pass, samples each sequence's next token with its own Sampler
//      (engine/generate/sampler.h, its own seed) and pushes one event per token.
// A sequence ends at max_tokens, an end-of-generation token (unless ignore_eos), a stop string
// (engine/generate/stop_text.h) or a full context; a cancelled Job (client gone) is dropped at
// the next step and its slots freed. An engine error fails the sequences of that step (an
// error event each) and the scheduler goes on.
//
// Logprobs: `logprobs` = N >= 0 gives, per generated token, its log-probability under the
// model (log-softmax of the raw logits, before any sampling transform) and the N most likely
// tokens; `prompt_logprobs` gives the same for every prompt token after the first (the row
// before it predicts it), which is what echo + logprobs returns.
//
// Thread-safety: submit(), stats(), drain() and stop() may be called from any thread; a Job's
// events are consumed by one thread. The Job must stay alive until its last event was read
// or it was cancelled (shared_ptr).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/generate/sampler.h"
#include "engine/model/batch.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/metrics.h"

namespace sb::serve {

struct SeqSpec {
  std::vector<int32_t> prompt;  // at least one token, at most n_ctx
  int max_tokens = 16;          // >= 0
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int logprobs = -1;             // -1: none; N >= 0: chosen token + top N per generated token
  bool prompt_logprobs = false;  // log-probs of prompt tokens 1.. (top `logprobs` when >= 0)
};

struct TokenLogprob {
  int32_t id = 0;
  double logprob = 0;
  std::vector<std::pair<int32_t, double>> top;  // most likely first
};

struct Event {
  int seq = 0;                          // index into Job::seqs
  std::vector<TokenLogprob> prompt_lp;  // once, first event, when prompt_logprobs
  bool has_prompt_lp = false;
  int32_t token = -1;  // -1: no token in this event
  TokenLogprob lp;     // when logprobs >= 0 and token >= 0
  std::string text;    // newly released text
  std::string finish;  // "stop" | "length" at the end of the sequence
  std::string error;   // non-empty: the sequence failed
};

class Job {
 public:
  explicit Job(std::vector<SeqSpec> seqs) : seqs(std::move(seqs)) {}
  const std::vector<SeqSpec> seqs;
  // Waits up to `timeout` for the next event; false on timeout.
  bool next(Event& ev, std::chrono::milliseconds timeout);
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  friend class Scheduler;
  void push(Event ev);
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
  int parallel = 4;             // sequences decoding together (slots)
  int64_t prefill_chunk = 128;  // prompt rows per step
  ContextOptions ctx;           // n_ctx and KV type of every slot
};

class Scheduler {
 public:
  // Allocates `parallel` KV caches up front (fails with sb::Error when they do not fit) and
  // starts the scheduler thread.
  Scheduler(const Model& model, const Tokenizer& tok, const SchedulerOptions& opt, Metrics& metrics);
  ~Scheduler();  // stop()
  void submit(const std::shared_ptr<Job>& job);
  int64_t n_ctx() const { return batch_.n_ctx(); }
  int parallel() const { return int(slots_.size()); }
  // Blocks until nothing is queued or running.
  void drain();
  // Ends the thread after the current step; sequences not finished get an error event.
  void stop();

 private:
  struct Slot;
  void loop();
  void step(std::vector<Slot*>& active);
  void finish(Slot& s, const std::string& reason);
  TokenLogprob make_lp(const float* row, int32_t id, int top) const;

  const Model& model_;
  const Tokenizer& tok_;
  Metrics& metrics_;
  int64_t chunk_;
  BatchContext batch_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  struct Pending {
    std::shared_ptr<Job> job;
    int seq;
    std::chrono::steady_clock::time_point t_arrival;
  };
  std::deque<Pending> queue_;
  int running_ = 0;  // slots in use (under mu_)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sb::serve
