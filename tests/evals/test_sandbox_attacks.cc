// One test per hostile or broken program: each must be scored as not passed, end within its
// limits, and leave the host untouched (no files, no connections, no surviving processes).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "evals/sandbox.h"
#include "tests/evals/sandbox_test_util.h"
#include "tests/test_support.h"

using namespace sb;
using sb::test::host_processes_matching;
using sb::test::isolation_name;
using sb::test::run_isolated;
using sb::test::unique_marker;
namespace fs = std::filesystem;

namespace {

// A Python string literal (the paths and markers used here are plain ASCII).
std::string py(const std::string& s) { return "'" + s + "'"; }

std::string random_secret() {
  std::random_device rd;
  std::string s = "SECRET-";
  for (int i = 0; i < 4; ++i) s += std::to_string(rd());
  return s;
}

// Sets the process name of the program (and of everything it forks) to `marker`, so the host
// can look for survivors in /proc.
std::string name_process(const std::string& marker) { return "open('/proc/self/comm', 'w').write(" + py(marker) + ")\n"; }

}  // namespace

TEST_CASE("sandbox attack: an infinite loop times out", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string marker = unique_marker("loop");
  auto r = run_isolated(iso, 1.5, name_process(marker) + "while True:\n    pass\n");
  CHECK(r.outcome == Outcome::Timeout);
  CHECK(r.detail == "timed out after 1.5 s");
  CHECK(host_processes_matching(marker).empty());
}

TEST_CASE("sandbox attack: sleeping while ignoring SIGTERM (and in a child) is killed at the timeout", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string marker = unique_marker("term");
  auto r = run_isolated(
      iso, 1.5,
      "import os, signal, time\n" + name_process(marker) +
          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
          "if os.fork() == 0:\n"
          "    os.execv('/usr/bin/python3', ['python3', '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
          "time.sleep(60)', " +
          py(marker) +
          "])\n"
          "time.sleep(60)\n");
  CHECK(r.outcome == Outcome::Timeout);
  CHECK(host_processes_matching(marker).empty());
}

TEST_CASE("sandbox attack: a fork flood is capped by the process limit and killed", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string marker = unique_marker("fork");
  auto r = run_isolated(iso, 2,
                        "import os\n" + name_process(marker) +
                            "while True:\n"
                            "    try:\n"
                            "        os.fork()\n"
                            "    except OSError:\n"
                            "        pass\n");
  CHECK_FALSE(r.passed());
  CHECK(r.outcome == Outcome::Timeout);
  CHECK(host_processes_matching(marker).empty());
  // The flood really hit the limit rather than, say, failing at once: count what it made.
  auto counted = run_isolated(iso, 20,
                              "import os, time\n"
                              "n = 0\n"
                              "try:\n"
                              "    while True:\n"
                              "        if os.fork() == 0:\n"
                              "            time.sleep(30)\n"
                              "            os._exit(0)\n"
                              "        n += 1\n"
                              "except OSError:\n"
                              "    pass\n"
                              "print(n)\n"
                              "assert n > 1000, n\n");
  INFO(counted.stdout_text << counted.stderr_text);
  CHECK(counted.outcome == Outcome::Failed);
  const int made = std::atoi(counted.stdout_text.c_str());
  CHECK(made >= 10);
  CHECK(made < int(SandboxLimits{}.max_processes));
}

TEST_CASE("sandbox attack: a memory hog hits the address-space limit", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  auto r = run_isolated(iso, 20, "x = bytearray(8 << 30)\nassert len(x) == 8 << 30\n");
  INFO(r.detail << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail == "failed: MemoryError");
  auto touch = run_isolated(iso, 20, "chunks = []\nwhile True:\n    chunks.append(b'x' * (64 << 20))\n");
  CHECK(touch.outcome == Outcome::Failed);
  CHECK(touch.detail == "failed: MemoryError");
}

TEST_CASE("sandbox attack: writes outside the sandbox do not reach the host", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string host_dir = test::temp_dir("sbx-write");
  const std::string name = unique_marker("wr") + ".txt";
  const std::vector<std::string> targets = {host_dir + "/" + name,
                                            std::string(SPARKBENCH_SOURCE_DIR) + "/" + name,
                                            "/root/" + name,
                                            "/usr/" + name,
                                            "/" + name,
                                            "/etc/" + name,
                                            "/dev/" + name,
                                            "/proc/" + name};
  std::string program = "import os\nwrote = []\n";
  for (const auto& t : targets) {
    program += "try:\n    open(" + py(t) + ", 'w').write('pwned')\n    wrote.append(" + py(t) + ")\nexcept OSError:\n    pass\n";
  }
  // /tmp inside the sandbox is the private scratch directory, not the host's /tmp.
  program += "open('/tmp/" + name + "', 'w').write('inside')\n";
  program += "assert wrote, 'no write outside the sandbox worked'\n";
  auto r = run_isolated(iso, 20, program);
  INFO(r.detail << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail == "failed: AssertionError: no write outside the sandbox worked");
  for (const auto& t : targets) {
    INFO(t);
    CHECK_FALSE(fs::exists(t));
  }
  CHECK_FALSE(fs::exists("/tmp/" + name));
}

TEST_CASE("sandbox attack: secret files on the host cannot be read", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string secret = random_secret();
  const std::string host_dir = test::temp_dir("sbx-secret");
  const std::string in_tmp = host_dir + "/secret.txt";
  std::ofstream(in_tmp) << secret;
  const char* home_env = std::getenv("HOME");
  const std::string home = home_env && *home_env ? home_env : "/root";
  const std::string in_home = home + "/.sparkbench-test-" + unique_marker("sec") + ".txt";
  {
    std::ofstream f(in_home);
    f << secret;
  }
  struct Remove {
    std::string p;
    ~Remove() { std::remove(p.c_str()); }
  } remove_home{in_home};
  REQUIRE(fs::exists(in_home));
  std::string program = "import os\nfound = []\n";
  for (const auto& p : {in_tmp, in_home, std::string("/etc/shadow"), std::string("/proc/1/environ")}) {
    program += "try:\n    data = open(" + py(p) +
               ").read()\n    print(data)\n    found.append(data)\nexcept OSError as e:\n"
               "    print('cannot read', e)\n";
  }
  program +=
      "for root, dirs, files in os.walk('/'):\n"
      "    if root.startswith(('/proc', '/sys', '/usr')):\n"
      "        dirs[:] = []\n"
      "        continue\n"
      "    for f in files:\n"
      "        if 'secret' in f or 'sparkbench-test' in f:\n"
      "            print('listed', os.path.join(root, f))\n";
  program += "assert any('SECRET' in d for d in found), 'secret not found'\n";
  auto r = run_isolated(iso, 20, program);
  INFO(r.detail << "\n" << r.stdout_text << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail == "failed: AssertionError: secret not found");
  CHECK(r.stdout_text.find(secret) == std::string::npos);
  CHECK(r.stderr_text.find(secret) == std::string::npos);
  CHECK(r.stdout_text.find("listed") == std::string::npos);
}

TEST_CASE("sandbox attack: no network, not even the host's loopback", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  auto r = run_isolated(iso, 20,
                        "import socket\n"
                        "errors = []\n"
                        "for host in ('127.0.0.1', 'localhost', '::1'):\n"
                        "    try:\n"
                        "        s = socket.create_connection((host, " +
                            std::to_string(port) +
                            "), timeout=3)\n"
                            "        s.sendall(b'pwned')\n"
                            "        s.close()\n"
                            "        print('connected to', host)\n"
                            "    except OSError as e:\n"
                            "        errors.append(e)\n"
                            "try:\n"
                            "    socket.create_connection(('93.184.216.34', 80), timeout=3)\n"
                            "    print('internet')\n"
                            "except OSError as e:\n"
                            "    errors.append(e)\n"
                            "print(errors)\n"
                            "assert len(errors) < 4, 'no connection worked'\n");
  INFO(r.detail << "\n" << r.stdout_text << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail == "failed: AssertionError: no connection worked");
  CHECK(r.stdout_text.find("connected") == std::string::npos);
  int conn = ::accept(listener, nullptr, nullptr);
  CHECK(conn < 0);
  CHECK((errno == EAGAIN || errno == EWOULDBLOCK));
  if (conn >= 0) ::close(conn);
  ::close(listener);
}

TEST_CASE("sandbox attack: a double-forked daemon dies with its sample", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::string marker = unique_marker("daem");
  // The daemon detaches (fork, setsid, fork), ignores the usual signals, names itself and
  // reports in; the program then fails normally, so this also covers the normal-exit path.
  auto r = run_isolated(iso, 20,
                        "import os, signal, time\n"
                        "if os.fork() == 0:\n"
                        "    os.setsid()\n"
                        "    if os.fork() == 0:\n"
                        "        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
                        "            signal.signal(s, signal.SIG_IGN)\n"
                        "        open('/proc/self/comm', 'w').write(" +
                            py(marker) +
                            ")\n"
                            "        open('/sandbox/daemon-up', 'w').write(str(os.getpid()))\n"
                            "        time.sleep(60)\n"
                            "    os._exit(0)\n"
                            "for _ in range(500):\n"
                            "    if os.path.exists('/sandbox/daemon-up'):\n"
                            "        break\n"
                            "    time.sleep(0.01)\n"
                            "print('daemon up:', os.path.exists('/sandbox/daemon-up'))\n"
                            "assert False, 'daemon left behind'\n");
  INFO(r.detail << "\n" << r.stdout_text << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.stdout_text == "daemon up: True\n");
  CHECK(host_processes_matching(marker).empty());
  // And when the program passes, too.
  const std::string marker2 = unique_marker("daem");
  auto ok = run_isolated(iso, 20,
                         "import os, time\n"
                         "if os.fork() == 0:\n"
                         "    os.setsid()\n"
                         "    if os.fork() == 0:\n"
                         "        open('/proc/self/comm', 'w').write(" +
                             py(marker2) +
                             ")\n"
                             "        open('/sandbox/daemon-up', 'w').write('1')\n"
                             "        time.sleep(60)\n"
                             "    os._exit(0)\n"
                             "while not os.path.exists('/sandbox/daemon-up'):\n"
                             "    time.sleep(0.01)\n");
  CHECK(ok.outcome == Outcome::Passed);
  CHECK(host_processes_matching(marker2).empty());
}

// bwrap exits as soon as its namespace init reports the program's status, before the kernel
// has killed the rest of the namespace; the sandbox must wait for that. The window is short,
// so the race is tried many times, with the check right after each run returns.
TEST_CASE("sandbox attack: no daemon is alive at the moment a run returns (repeated)", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  int survivors = 0, runs = 0;
  for (int i = 0; i < 15; ++i) {
    const std::string marker = unique_marker("race");
    auto r = run_isolated(iso, 20,
                          "import os, time\n"
                          "if os.fork() == 0:\n"
                          "    os.setsid()\n"
                          "    if os.fork() == 0:\n"
                          "        open('/proc/self/comm', 'w').write(" +
                              py(marker) +
                              ")\n"
                              "        open('/sandbox/daemon-up', 'w').write('1')\n"
                              "        time.sleep(60)\n"
                              "    os._exit(0)\n"
                              "while not os.path.exists('/sandbox/daemon-up'):\n"
                              "    time.sleep(0.001)\n");
    INFO(r.detail);
    CHECK(r.outcome == Outcome::Passed);
    runs += r.outcome == Outcome::Passed;
    if (!host_processes_matching(marker).empty()) {
      ++survivors;
      // Let it go before the next try so one survivor is counted once.
      for (int w = 0; w < 500 && !host_processes_matching(marker).empty(); ++w) ::usleep(10000);
    }
  }
  CHECK(runs == 15);
  CHECK(survivors == 0);
}

TEST_CASE("sandbox attack: killing the parent or the process group does not hurt the harness", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  const std::vector<std::string> attacks = {
      "os.kill(os.getppid(), signal.SIGKILL)",
      "os.kill(1, signal.SIGKILL)",
      "os.killpg(os.getpgid(0), signal.SIGKILL)",
      "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
      "os.kill(-1, signal.SIGKILL)",
      "os.kill(0, signal.SIGTERM)",
      "os.kill(os.getpid(), signal.SIGKILL)",
  };
  for (const auto& attack : attacks) {
    auto r = run_isolated(iso, 20,
                          "import os, signal, time\ntry:\n    " + attack +
                              "\nexcept OSError as e:\n    print(e)\ntime.sleep(0.2)\n"
                              "assert False, 'still here'\n");
    INFO(attack << " -> " << r.detail << "\n" << r.stderr_text);
    CHECK_FALSE(r.passed());
    CHECK((r.outcome == Outcome::Failed || r.outcome == Outcome::Crashed));
    if (r.outcome == Outcome::Crashed) CHECK((r.signal == SIGKILL || r.signal == SIGTERM));
  }
  // The harness is alive and the sandbox still works.
  CHECK(run_isolated(iso, 20, "print(1)\n").outcome == Outcome::Passed);
}

TEST_CASE("sandbox attack: a gigabyte of output is cut off quickly", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  // Generous timeout: the point is that the output limit ends it, not the clock.
  auto r = run_isolated(iso, 60,
                        "import sys\n"
                        "chunk = 'x' * (1 << 20)\n"
                        "for _ in range(1024):\n"
                        "    sys.stdout.write(chunk)\n"
                        "sys.stdout.flush()\n");
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail.rfind("failed: output limit exceeded", 0) == 0);
  CHECK(r.stdout_text.size() == SandboxLimits{}.output_keep_bytes);
  CHECK(r.stdout_bytes > SandboxLimits{}.output_kill_bytes);
  CHECK(r.stdout_bytes < (uint64_t(1) << 30));
  auto err = run_isolated(iso, 60,
                          "import os\n"
                          "chunk = b'e' * (1 << 20)\n"
                          "for _ in range(1024):\n"
                          "    os.write(2, chunk)\n");
  CHECK(err.outcome == Outcome::Failed);
  CHECK(err.stderr_text.size() == SandboxLimits{}.output_keep_bytes);
}

TEST_CASE("sandbox attack: filling the disk stops at the scratch and file-size limits", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  auto r = run_isolated(iso, 20,
                        "import os\n"
                        "written = 0\n"
                        "try:\n"
                        "    for i in range(1000):\n"
                        "        with open('/sandbox/fill%d' % i, 'wb') as f:\n"
                        "            f.write(b'x' * (8 << 20))\n"
                        "        written += 8 << 20\n"
                        "except OSError as e:\n"
                        "    print('stopped after', written, e.errno)\n"
                        "try:\n"
                        "    open('/dev/shm/x', 'wb').write(b'x' * (200 << 20))\n"
                        "except OSError as e:\n"
                        "    print('shm', e.errno)\n"
                        "assert written >= (1 << 30)\n");
  INFO(r.stdout_text << r.stderr_text);
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.stdout_text.find("stopped after") != std::string::npos);
  CHECK(r.stdout_text.find("shm") != std::string::npos);
}

TEST_CASE("sandbox attack: infinite recursion fails or crashes without hanging", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  auto r = run_isolated(iso, 20, "def f(n):\n    return f(n + 1)\nf(0)\n");
  CHECK(r.outcome == Outcome::Failed);
  CHECK(r.detail.find("RecursionError") != std::string::npos);
  // With the recursion limit lifted, recursion through C code overflows the C stack.
  auto deep = run_isolated(
      iso, 20, "import sys\nsys.setrecursionlimit(10 ** 8)\nx = []\nfor _ in range(10 ** 6):\n    x = [x]\nprint(repr(x)[:10])\n");
  INFO(deep.detail);
  CHECK(deep.outcome == Outcome::Crashed);
  CHECK(deep.signal == SIGSEGV);
}

TEST_CASE("sandbox attack: a segfault is a crash", "[sandbox][attack][unit]") {
  const Isolation iso = GENERATE(Isolation::Process, Isolation::ForkServer);
  INFO(isolation_name(iso));
  auto r = run_isolated(iso, 20, "import ctypes\nctypes.string_at(0)\n");
  CHECK(r.outcome == Outcome::Crashed);
  CHECK(r.signal == SIGSEGV);
  CHECK(r.detail == "crashed: SIGSEGV");
  auto abrt = run_isolated(iso, 20, "import os\nos.abort()\n");
  CHECK(abrt.outcome == Outcome::Crashed);
  CHECK(abrt.detail == "crashed: SIGABRT");
}

TEST_CASE("sandbox attack: CPU burnt in several processes is bounded by the CPU limit", "[sandbox][attack][unit]") {
  SandboxOptions o;
  o.limits.timeout_s = 30;
  o.limits.cpu_seconds = 1;
  Sandbox s(o);
  SandboxWorker w(s);
  const std::string burn = "import os\nos.fork()\nwhile True:\n    pass\n";
  for (const auto& r : {s.run(burn), w.run(burn)}) {
    INFO(r.detail);
    CHECK(r.outcome == Outcome::Crashed);
    CHECK((r.signal == SIGXCPU || r.signal == SIGKILL));
  }
}
