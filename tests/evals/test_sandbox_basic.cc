// The sandbox's basic contract: what passes and fails, how an early exit is caught, what the
// program sees (environment, files, argv), output capture, the worker pool, and what happens
// without bubblewrap.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "evals/sandbox.h"
#include "tests/evals/sandbox_test_util.h"

using namespace sb;
using sb::test::sandbox_with_timeout;

TEST_CASE("sandbox: a program that runs to its end passes; a failing assert fails", "[sandbox][unit]") {
  const Sandbox& s = sandbox_with_timeout(20);
  auto ok = s.run("def f(x):\n    return x + 1\nassert f(1) == 2\nprint('hello')\n");
  INFO(ok.detail << "\n" << ok.stderr_text);
  CHECK(ok.outcome == Outcome::Passed);
  CHECK(ok.detail == "passed");
  CHECK(ok.stdout_text == "hello\n");
  CHECK(ok.exit_code == 0);
  CHECK(ok.sandboxed);
  auto bad = s.run("assert 1 == 2, 'nope'\n");
  CHECK(bad.outcome == Outcome::Failed);
  CHECK(bad.detail == "failed: AssertionError: nope");
  CHECK(bad.exit_code == 1);
  CHECK(bad.stderr_text.find("prog.py\", line 1") != std::string::npos);
  auto syntax = s.run("def f(:\n");
  CHECK(syntax.outcome == Outcome::Failed);
  CHECK(syntax.detail.find("SyntaxError") != std::string::npos);
}

TEST_CASE("sandbox: leaving before the tests finish is never a pass", "[sandbox][unit]") {
  const Sandbox& s = sandbox_with_timeout(20);
  // A HumanEval-shaped program whose completion leaves early with status 0.
  const std::vector<std::string> exits = {
      "    exit(0)\n",
      "    quit()\n",
      "    import sys; sys.exit(0)\n",
      "    import sys; sys.exit()\n",
      "    import os; os._exit(0)\n",
      "    raise SystemExit\n",
      "    raise SystemExit(0)\n",
      "    import os, sys; sys.stdout.flush(); os.execv('/usr/bin/true', ['true'])\n",
  };
  for (const auto& body : exits) {
    const std::string program = "def f(x):\n" + body + "    return x\n\ndef check(c):\n    assert c(1) == 1\n\ncheck(f)\n";
    auto r = s.run(program);
    INFO(body << " -> " << r.detail << "\n" << r.stderr_text);
    CHECK(r.outcome == Outcome::Failed);
    CHECK(r.detail == "failed: exited with status 0 before the tests finished");
    CHECK(r.exit_code == 0);
  }
  // The same program without the early exit passes.
  auto r = s.run("def f(x):\n    return x\n\ndef check(c):\n    assert c(1) == 1\n\ncheck(f)\n");
  CHECK(r.outcome == Outcome::Passed);
  // A non-zero exit after the tests finished (atexit) is a failure too.
  auto late = s.run("import atexit, os\natexit.register(lambda: os._exit(3))\n");
  CHECK(late.outcome == Outcome::Failed);
  CHECK(late.exit_code == 3);
}

TEST_CASE("sandbox: the program runs as a script in a private, minimal environment", "[sandbox][unit]") {
  const Sandbox& s = sandbox_with_timeout(20);
  auto r = s.run(
      "import os, sys, pickle, dataclasses\n"
      "@dataclasses.dataclass\nclass P:\n    x: int\n"
      "assert pickle.loads(pickle.dumps(P(3))) == P(3)\n"
      "assert __name__ == '__main__' and __file__ == '/sandbox/prog.py', (__name__, __file__)\n"
      "assert sys.argv == ['/sandbox/prog.py'], sys.argv\n"
      "assert sys.path[0] == '/sandbox', sys.path\n"
      "assert os.getcwd() == '/sandbox'\n"
      "assert dict(os.environ) == {'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': '/sandbox', 'LANG': 'C.UTF-8',\n"
      "    'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONHASHSEED': '0', 'PWD': '/sandbox'}, dict(os.environ)\n"
      "assert sys.flags.no_site and sys.flags.dont_write_bytecode and sys.flags.hash_randomization == 0\n"
      "assert sys.stdin.read() == ''\n"
      "assert os.listdir('/sandbox') == ['prog.py'], os.listdir('/sandbox')\n"
      "open('/tmp/scratch.txt', 'w').write('ok')\n"
      "assert open('/sandbox/scratch.txt').read() == 'ok'\n"
      "for fd in (4, 5, 6, 7):\n"
      "    try:\n        os.fstat(fd)\n    except OSError:\n        pass\n    else:\n        raise AssertionError(fd)\n"
      "import json, re, collections, itertools, functools, math, heapq, bisect, string, datetime, fractions, decimal\n"
      "print('café', hash('abc'))\n");
  INFO(r.detail << "\n" << r.stderr_text);
  CHECK(r.outcome == Outcome::Passed);
  // Deterministic string hashing (PYTHONHASHSEED=0): the same value on every run.
  auto again = s.run("print('café', hash('abc'))\n");
  CHECK(again.stdout_text == r.stdout_text);
  CHECK(r.stdout_text.rfind("café ", 0) == 0);
}

TEST_CASE("sandbox: stdout and stderr are captured separately and capped", "[sandbox][unit]") {
  SandboxOptions o;
  o.limits.timeout_s = 30;
  o.limits.output_keep_bytes = 1000;
  o.limits.output_kill_bytes = 0;  // never kill: read and discard everything
  Sandbox s(o);
  auto r = s.run(
      "import sys\n"
      "sys.stdout.write('o' * 5000)\n"
      "sys.stderr.write('e' * 3000)\n");
  CHECK(r.outcome == Outcome::Passed);
  CHECK(r.stdout_text == std::string(1000, 'o'));
  CHECK(r.stderr_text == std::string(1000, 'e'));
  CHECK(r.stdout_bytes == 5000);
  CHECK(r.stderr_bytes == 3000);
  // The error that ends a program is found even when stderr was cut before it.
  SandboxWorker w(s);
  for (const auto& f : {s.run("import sys\nsys.stderr.write('e' * 20000)\nraise ValueError('at the end')\n"),
                        w.run("import sys\nsys.stderr.write('e' * 20000)\nraise ValueError('at the end')\n")}) {
    CHECK(f.outcome == Outcome::Failed);
    CHECK(f.detail == "failed: ValueError: at the end");
    CHECK(f.stderr_text.size() == 1000);
    CHECK(f.stderr_tail.find("ValueError: at the end") != std::string::npos);
  }
}

TEST_CASE("sandbox: check_all keeps input order and reports progress", "[sandbox][unit]") {
  const Sandbox& s = sandbox_with_timeout(20);
  std::vector<std::string> programs;
  for (int i = 0; i < 12; ++i) programs.push_back(i % 3 == 0 ? "assert False\n" : "print(" + std::to_string(i) + ")\n");
  std::atomic<size_t> calls{0};
  size_t last = 0;
  auto results = s.check_all(programs, 3, [&](size_t done, size_t total) {
    CHECK(total == programs.size());
    CHECK(done == last + 1);  // serialized, in completion order
    last = done;
    ++calls;
  });
  REQUIRE(results.size() == programs.size());
  CHECK(calls == programs.size());
  for (int i = 0; i < 12; ++i) {
    INFO(i);
    if (i % 3 == 0) {
      CHECK(results[i].outcome == Outcome::Failed);
    } else {
      CHECK(results[i].outcome == Outcome::Passed);
      CHECK(results[i].stdout_text == std::to_string(i) + "\n");
    }
  }
  CHECK(s.check_all({}, 2).empty());
}

TEST_CASE("sandbox: without bubblewrap it refuses unless told to run unsandboxed", "[sandbox][unit]") {
  SandboxOptions o;
  o.bwrap = "/nonexistent/sparkbench-test/bwrap";
  try {
    Sandbox s(o);
    FAIL("expected sb::Error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.rfind("bubblewrap (bwrap) is required to run generated code; install it or pass --unsafe-no-sandbox", 0) == 0);
    CHECK(m.find('\n') == std::string::npos);
  }
  o.unsafe_no_sandbox = true;
  o.limits.timeout_s = 20;
  Sandbox s(o);
  CHECK_FALSE(s.sandboxed());
  CHECK(std::string(s.kind()) == "none");
  CHECK(s.warning().find("WITHOUT a sandbox") != std::string::npos);
  auto ok = s.run("import os\nassert os.environ['PYTHONHASHSEED'] == '0'\nprint('hi')\n");
  INFO(ok.detail << "\n" << ok.stderr_text);
  CHECK(ok.outcome == Outcome::Passed);
  CHECK_FALSE(ok.sandboxed);
  CHECK(ok.stdout_text == "hi\n");
  auto early = s.run("import sys\nsys.exit(0)\nassert False\n");
  CHECK(early.outcome == Outcome::Failed);
  auto slow = SandboxOptions(o);
  slow.limits.timeout_s = 1;
  auto t = Sandbox(slow).run("while True:\n    pass\n");
  CHECK(t.outcome == Outcome::Timeout);
  auto seg = s.run("import ctypes\nctypes.string_at(0)\n");
  CHECK(seg.outcome == Outcome::Crashed);
  CHECK(seg.detail == "crashed: SIGSEGV");
}

TEST_CASE("sandbox: a broken interpreter or sandbox is sandbox_error, not a failure", "[sandbox][unit]") {
  SandboxOptions o;
  o.python = "/nonexistent/python3";
  CHECK_THROWS_AS(Sandbox(o), Error);
  SandboxOptions rel;
  rel.python = "python3";
  CHECK_THROWS_AS(Sandbox(rel), Error);
  SandboxOptions bad_timeout;
  bad_timeout.limits.timeout_s = 0;
  CHECK_THROWS_AS(Sandbox(bad_timeout), Error);
  // An interpreter outside the read-only binds exists on the host but not in the sandbox.
  SandboxOptions outside;
  outside.python = "/bin/sh";  // exists; but the probe program is Python
  CHECK_THROWS_AS(Sandbox(outside), Error);
}

TEST_CASE("sandbox: outcome names are the documented strings", "[sandbox][unit]") {
  CHECK(std::string(outcome_name(Outcome::Passed)) == "passed");
  CHECK(std::string(outcome_name(Outcome::Failed)) == "failed");
  CHECK(std::string(outcome_name(Outcome::Timeout)) == "timeout");
  CHECK(std::string(outcome_name(Outcome::Crashed)) == "crashed");
  CHECK(std::string(outcome_name(Outcome::SandboxError)) == "sandbox_error");
}

TEST_CASE("sandbox: a fork server leaves nothing of one program to the next", "[sandbox][unit]") {
  SandboxOptions o;
  o.isolation = Isolation::ForkServer;
  o.limits.timeout_s = 3;
  Sandbox s(o);
  SandboxWorker w(s);
  auto dirty = w.run(
      "import os, math, builtins, time\n"
      "open('/sandbox/left.txt', 'w').write('x')\n"
      "open('/tmp/left2.txt', 'w').write('x')\n"
      "open('/dev/shm/left3', 'w').write('x')\n"
      "os.makedirs('/sandbox/d/e/f')\n"
      "open('/sandbox/d/e/f/g', 'w').write('x')\n"
      "os.chmod('/sandbox/d/e', 0)\n"
      "os.chmod('/sandbox', 0o500)\n"
      "math.pi = 3\n"
      "builtins.leaked = True\n"
      "os.environ['LEAKED'] = '1'\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    time.sleep(60)\n");
  INFO(dirty.detail << "\n" << dirty.stderr_text);
  CHECK(dirty.outcome == Outcome::Passed);
  auto clean = w.run(
      "import os, math, builtins\n"
      "assert os.listdir('/sandbox') == ['prog.py'], os.listdir('/sandbox')\n"
      "assert os.listdir('/dev/shm') == [], os.listdir('/dev/shm')\n"
      "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
      "assert pids == [1, 2, os.getpid()], pids\n"
      "assert math.pi > 3.14 and not hasattr(builtins, 'leaked') and 'LEAKED' not in os.environ\n"
      "open('/sandbox/new.txt', 'w').write('ok')\n");
  INFO(clean.detail << "\n" << clean.stderr_text);
  CHECK(clean.outcome == Outcome::Passed);
  CHECK(w.servers_started() == 1);
  // A timeout ends the server; the next program gets a new one.
  CHECK(w.run("while True:\n    pass\n").outcome == Outcome::Timeout);
  CHECK(w.run("print('again')\n").outcome == Outcome::Passed);
  CHECK(w.servers_started() == 2);
}
