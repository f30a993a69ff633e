// `sparkbench distill --checkpoint`: a real process SIGKILLed after its first checkpoint, rerun
// with the same command, writes the same GGUF bytes and prints the same KLD line as an unbroken
// run (stories260K teacher, a prune-layers:1 student).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/mmap_file.h"
#include "tests/test_support.h"

using namespace sb;

namespace {

// Starts argv with stdout and stderr going to files; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

std::string kld_line(const std::string& out) {
  const size_t at = out.find("held-out KLD to the teacher:");
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

}  // namespace

TEST_CASE("cli distill: a run killed after a checkpoint resumes to the unbroken run's bytes", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const std::string dir = test::temp_dir("distill-resume");
  auto args = [&](const std::string& out, const std::string& ck) {
    std::vector<std::string> a = {"distill",
                                  "--teacher",
                                  test::shared_path("models/stories260K.gguf"),
                                  "--student-variant",
                                  "prune-layers:1",
                                  "--teacher-samples",
                                  "16",
                                  "--heldout",
                                  "2",
                                  "--seq",
                                  "32",
                                  "--steps",
                                  "80",
                                  "--batch",
                                  "2",
                                  "--seed",
                                  "3",
                                  "--eval-every",
                                  "20",
                                  "-t",
                                  "1",
                                  "-o",
                                  out};
    if (!ck.empty()) a.insert(a.end(), {"--checkpoint", ck, "--checkpoint-every", "4"});
    return a;
  };
  // unbroken, no checkpoints
  const auto ru = test::run_cli(args(dir + "/unbroken.gguf", ""));
  INFO(ru.out << ru.err);
  REQUIRE(ru.exit_code == 0);

  // killed as soon as its first checkpoint exists
  const std::string ck = dir + "/ck", killed_out = dir + "/resumed.gguf";
  std::vector<std::string> argv = args(killed_out, ck);
  argv.insert(argv.begin(), test::sparkbench_bin());
  const pid_t pid = spawn(argv, dir + "/killed.out", dir + "/killed.err");
  REQUIRE(pid > 0);
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  bool exited = false;
  while (!std::filesystem::exists(ck + "/checkpoint.sbck")) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(120)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  INFO("killed run's stderr: " << read_file(dir + "/killed.err"));
  REQUIRE(!exited);  // it must not have finished (or failed) before the kill
  REQUIRE(WIFSIGNALED(status));
  CHECK(!std::filesystem::exists(killed_out));

  // the same command again resumes and ends as the unbroken run
  const auto rr = test::run_cli(args(killed_out, ck));
  INFO(rr.out << rr.err);
  REQUIRE(rr.exit_code == 0);
  long long from = -1, of = -1;
  const size_t at = rr.err.find("distill: resuming from step ");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(rr.err.c_str() + at, "distill: resuming from step %lld of %lld", &from, &of) == 2);
  CHECK(from > 0);
  CHECK(from < 80);  // it trained the rest, not nothing
  CHECK(from % 4 == 0);
  CHECK(of == 80);
  CHECK(!kld_line(ru.out).empty());
  CHECK(kld_line(rr.out) == kld_line(ru.out));
  const std::string a = read_file(dir + "/unbroken.gguf"), b = read_file(killed_out);
  CHECK(a.size() > 100000);
  CHECK((a == b));
  // the held-out KLD every 20 steps: the resumed run prints those after its restart point
  CHECK(rr.err.find("step 60: held-out KLD") != std::string::npos);
  if (from < 20) CHECK(rr.err.find("step 20: held-out KLD") != std::string::npos);

  // other settings on the same checkpoint directory: one line naming the checkpoint and the setting
  auto other = args(dir + "/other.gguf", ck);
  for (size_t i = 0; i + 1 < other.size(); ++i)
    if (other[i] == "--seed") other[i + 1] = "4";
  const auto ro = test::run_cli(other);
  CHECK(ro.exit_code != 0);
  CHECK(ro.err.find(ck + "/checkpoint.sbck: checkpoint of another run: seed 3 there, 4 now") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/other.gguf"));
}

TEST_CASE("cli distill: --checkpoint-every needs --checkpoint", "[cli][distill][shared]") {
  if (test::skip_without_shared()) return;
  const auto r = test::run_cli({"distill", "--teacher", test::shared_path("models/stories260K.gguf"), "--student-variant", "prune-layers:1",
                                "--steps", "1", "--checkpoint-every", "5", "-o", "/tmp/x.gguf"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("--checkpoint") != std::string::npos);
}
