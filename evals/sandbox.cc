#include "evals/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "engine/core/error.h"
#include "evals/python_bootstrap.h"
#include "common/text.h"
#include "evals/sandbox_detail.h"
#include "evals/subprocess.h"

namespace sb {

namespace sandbox_detail {

std::string random_nonce() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t r = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail("getrandom: ", strerror(errno));
    }
    got += size_t(r);
  }
  static const char* hex = "0123456789abcdef";
  std::string s = "sbx-";
  for (unsigned char b : bytes) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

namespace {

void write_all(int fd, const std::string& data, const char* what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("writing ", what, ": ", strerror(errno));
    }
    off += size_t(w);
  }
}

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// The parent of `pid` according to /proc, or -1.
pid_t parent_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  char state = 0;
  long ppid = -1;
  if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) return -1;
  return pid_t(ppid);
}

}  // namespace

int memfd_with(const std::string& data) {
  int fd = ::memfd_create("prog.py", MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create: ", strerror(errno));
  try {
    write_all(fd, data, "program");
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    const int e = errno;
    ::close(fd);
    fail("lseek: ", strerror(e));
  }
  return fd;
}

int prefilled_pipe(const std::string& data) {
  Pipe p = make_pipe();
  FdCloser w{&p.write};
  try {
    write_all(p.write, data, "nonce pipe");
  } catch (...) {
    close_fd(p.read);
    throw;
  }
  return p.read;
}

namespace {

// The init's pid from bwrap's --info-fd JSON, or -1 while it is not there yet.
pid_t namespace_init_pid(const std::string& info) {
  size_t key = info.find("\"child-pid\"");
  if (key == std::string::npos) return -1;
  size_t colon = info.find(':', key);
  if (colon == std::string::npos || info.find_first_of(",}", colon) == std::string::npos) return -1;
  long child = std::strtol(info.c_str() + colon + 1, nullptr, 10);
  return child > 1 ? pid_t(child) : -1;
}

// A pidfd on `child` if it is bwrap_pid's child, else -1. The pid names the init only while it
// is still bwrap's child (bwrap, our unreaped child, has not reaped it): then the pidfd,
// opened first, refers to the right process.
int pidfd_of_child(pid_t bwrap_pid, pid_t child) {
  if (child <= 1) return -1;
  int pidfd = int(::syscall(SYS_pidfd_open, child, 0));
  if (pidfd < 0) return -1;
  if (parent_of(child) != bwrap_pid) {
    ::close(pidfd);
    return -1;
  }
  return pidfd;
}

}  // namespace

bool kill_namespace_init(pid_t bwrap_pid, const std::string& info) {
  int pidfd = pidfd_of_child(bwrap_pid, namespace_init_pid(info));
  if (pidfd < 0) return false;
  bool ok = ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) == 0;
  ::close(pidfd);
  return ok;
}

NamespaceInit::~NamespaceInit() { close_fd(pidfd_); }

void NamespaceInit::track(pid_t bwrap_pid, const std::string& info) {
  if (pidfd_ < 0) pidfd_ = pidfd_of_child(bwrap_pid, namespace_init_pid(info));
}

bool NamespaceInit::kill() { return pidfd_ >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0) == 0; }

bool NamespaceInit::kill_and_wait(int timeout_ms) {
  if (pidfd_ < 0) return true;
  kill();
  pollfd p{pidfd_, POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return r > 0;
}

uint64_t cpu_seconds_for(const SandboxLimits& l) { return l.cpu_seconds ? l.cpu_seconds : uint64_t(std::ceil(l.timeout_s)) + 1; }

std::vector<ResourceLimit> rlimits_for(const SandboxLimits& l, bool with_cpu, bool with_nproc) {
  std::vector<ResourceLimit> r = {
      {RLIMIT_AS, l.address_space_bytes, l.address_space_bytes},
      {RLIMIT_FSIZE, l.file_size_bytes, l.file_size_bytes},
      {RLIMIT_NOFILE, l.open_files, l.open_files},
      {RLIMIT_CORE, 0, 0},
  };
  if (with_cpu) r.push_back({RLIMIT_CPU, cpu_seconds_for(l), cpu_seconds_for(l) + 1});
  if (with_nproc) r.push_back({RLIMIT_NPROC, l.max_processes, l.max_processes});
  return r;
}

std::vector<std::string> base_env(const std::string& home) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0"};
}

SandboxResult sandbox_error(const std::string& why, bool sandboxed) {
  SandboxResult r;
  r.outcome = Outcome::SandboxError;
  r.detail = "sandbox_error: " + why;
  r.sandboxed = sandboxed;
  return r;
}

SandboxResult classify(RunEnd& end, const std::string& nonce, const SandboxLimits& limits, bool sandboxed) {
  SandboxResult r;
  r.sandboxed = sandboxed;
  r.seconds = end.seconds;
  end.streams.resize(std::max<size_t>(end.streams.size(), 3));
  r.stdout_bytes = end.streams[0].total;
  r.stderr_bytes = end.streams[1].total;
  r.stdout_text = std::move(end.streams[0].data);
  r.stderr_text = std::move(end.streams[1].data);
  r.stderr_tail = std::move(end.streams[1].tail);
  // The error that ended a program is at the end of stderr, which may be past what was kept.
  const std::string& err_end = r.stderr_tail.empty() ? r.stderr_text : r.stderr_tail;
  const std::string& status = end.streams[2].data;
  const bool started = !status.empty() && status[0] == 'S';
  const bool finished = started && status.find(nonce, 1) != std::string::npos;
  if (end.status_known && end.exited) r.exit_code = end.exit_code;
  int sig = end.status_known ? end.signal : 0;
  if (end.status_known && end.signal_in_exit_code && end.exited && end.exit_code > 128 && end.exit_code < 128 + 65)
    sig = end.exit_code - 128;
  const bool exited_zero = end.status_known && end.exited && end.exit_code == 0;
  if (end.timed_out) {
    r.outcome = Outcome::Timeout;
    r.detail = "timed out after " + format_seconds(limits.timeout_s) + " s";
  } else if (!started) {
    r.outcome = Outcome::SandboxError;
    std::string why = text::last_line(err_end);
    if (why.empty() && end.status_known) why = end.exited ? cat("exit status ", end.exit_code) : "killed by " + signal_name(end.signal);
    if (why.empty()) why = "no report";
    r.detail = "sandbox_error: the interpreter did not start: " + why;
  } else if (end.output_limit) {
    r.outcome = Outcome::Failed;
    r.detail = cat("failed: output limit exceeded (more than ", limits.output_kill_bytes, " bytes)");
  } else if (end.server_lost) {
    r.outcome = Outcome::Failed;
    r.detail = "failed: the program killed the sandbox's fork server";
  } else if (finished && exited_zero) {
    r.outcome = Outcome::Passed;
    r.detail = "passed";
  } else if (sig != 0) {
    r.outcome = Outcome::Crashed;
    r.signal = sig;
    r.detail = "crashed: " + signal_name(sig);
    if (sig == SIGXCPU) r.detail += " (CPU time limit)";
  } else if (exited_zero) {
    r.outcome = Outcome::Failed;
    r.detail = "failed: exited with status 0 before the tests finished";
  } else {
    r.outcome = Outcome::Failed;
    std::string why = finished ? cat("exit status ", end.exit_code, " after the tests finished") : text::last_line(err_end);
    if (why.empty()) why = cat("exit status ", end.exit_code);
    r.detail = "failed: " + why;
  }
  return r;
}

}  // namespace sandbox_detail

using namespace sandbox_detail;

namespace {

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + name;
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return "";
}

// bwrap arguments that reproduce the host's top-level /bin, /lib... (merged-/usr symlinks or
// real directories).
void add_system_dirs(std::vector<std::string>& a) {
  a.insert(a.end(), {"--ro-bind", "/usr", "/usr"});
  for (const char* d : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st;
    if (::lstat(d, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(d, target, sizeof target - 1);
      if (n <= 0) continue;
      a.insert(a.end(), {"--symlink", std::string(target, size_t(n)), d});
    } else if (S_ISDIR(st.st_mode)) {
      a.insert(a.end(), {"--ro-bind", d, d});
    }
  }
  a.insert(a.end(), {"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"});
}

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Passed:
      return "passed";
    case Outcome::Failed:
      return "failed";
    case Outcome::Timeout:
      return "timeout";
    case Outcome::Crashed:
      return "crashed";
    case Outcome::SandboxError:
      return "sandbox_error";
  }
  return "?";
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  const SandboxLimits& l = options_.limits;
  if (!(l.timeout_s > 0) || l.timeout_s > 86400) fail("sandbox: timeout must be in (0, 86400] seconds, got ", l.timeout_s);
  if (l.address_space_bytes < (uint64_t(64) << 20)) fail("sandbox: address-space limit below 64 MiB cannot run python");
  if (l.max_processes < 2) fail("sandbox: max_processes must be at least 2");
  if (l.open_files < 16) fail("sandbox: open_files must be at least 16");
  if (l.scratch_bytes < (uint64_t(1) << 20)) fail("sandbox: scratch_bytes must be at least 1 MiB");
  if (options_.python.empty() || options_.python[0] != '/')
    fail("sandbox: the interpreter path must be absolute, got '", options_.python, "'");
  if (::access(options_.python.c_str(), X_OK) != 0)
    fail("sandbox: python interpreter ", options_.python, " is not an executable file: ", strerror(errno));
  env_ = base_env(kScratch);

  if (options_.unsafe_no_sandbox) {
    warning_ =
        "WARNING: generated code ran WITHOUT a sandbox (--unsafe-no-sandbox): no file-system, network or "
        "process isolation, only rlimits and a process group";
    return;
  }
  bwrap_path_ = find_in_path(options_.bwrap);
  if (bwrap_path_.empty()) fail(kBwrapRequired, " (", options_.bwrap, ": not found or not executable)");

  // Everything up to the program differs only in how prog.py gets there.
  std::vector<std::string> a = {bwrap_path_,  "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
                                "--cap-drop", "ALL",           "--hostname",     "sandbox"};
  add_system_dirs(a);
  for (const auto& p : options_.extra_ro_binds) a.insert(a.end(), {"--ro-bind", p, p});
  const std::string size = std::to_string(l.scratch_bytes);
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--size", size,
                     "--tmpfs", kScratch});
  std::vector<std::string> tail = {"--symlink", kScratch, "/tmp",      "--remount-ro",          "/",
                                   "--chdir",   kScratch, "--info-fd", std::to_string(kInfoFd), "--clearenv"};
  for (const auto& kv : env_) {
    size_t eq = kv.find('=');
    tail.insert(tail.end(), {"--setenv", kv.substr(0, eq), kv.substr(eq + 1)});
  }
  tail.insert(tail.end(), {"--", options_.python, "-s", "-S", "-B", "-c"});

  process_argv_ = a;
  process_argv_.insert(process_argv_.end(), {"--file", std::to_string(kProgramFd), kProgramPath});
  process_argv_.insert(process_argv_.end(), tail.begin(), tail.end());
  process_argv_.push_back(python_bootstrap(kProgramPath, l.max_processes));

  server_argv_ = a;
  server_argv_.insert(server_argv_.end(), tail.begin(), tail.end());
  ForkServerConfig fc;
  fc.program_path = kProgramPath;
  fc.scratch_dirs = {kScratch, "/dev/shm"};
  fc.cpu_seconds = cpu_seconds_for(l);
  fc.address_space_bytes = l.address_space_bytes;
  fc.file_size_bytes = l.file_size_bytes;
  fc.open_files = l.open_files;
  // The namespace's init and the server count too.
  fc.max_processes = l.max_processes + 2;
  fc.preload = default_preload_modules();
  server_argv_.push_back(python_fork_server(fc));

  SandboxResult probe = run_process("pass\n", std::max(l.timeout_s, 30.0));
  if (!probe.passed()) fail(kBwrapRequired, " (the sandbox did not start: ", probe.detail, ")");
}

SandboxResult Sandbox::run(const std::string& program) const {
  try {
    return sandboxed() ? run_process(program, options_.limits.timeout_s) : run_unsafe(program);
  } catch (const Error& e) {
    return sandbox_error(e.what(), sandboxed());
  }
}

SandboxResult Sandbox::run_process(const std::string& program, double timeout_s) const {
  const SandboxLimits& l = options_.limits;
  if (program.size() >= l.file_size_bytes || program.size() >= l.scratch_bytes)
    return sandbox_error(cat("program of ", program.size(), " bytes exceeds the file-size or scratch limit"), true);
  const std::string nonce = random_nonce();
  int prog = -1, nonce_fd = -1, devnull = -1;
  Pipe out, err, status, info;
  FdCloser closer{&prog,      &nonce_fd,    &devnull,      &out.read,  &out.write, &err.read,
                  &err.write, &status.read, &status.write, &info.read, &info.write};
  prog = memfd_with(program);
  nonce_fd = prefilled_pipe(nonce);
  devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return sandbox_error(cat("/dev/null: ", strerror(errno)), true);
  out = make_pipe();
  err = make_pipe();
  status = make_pipe();
  info = make_pipe();

  SpawnSpec spec;
  spec.path = bwrap_path_;
  spec.argv = process_argv_;
  spec.env = env_;
  spec.fds = {{devnull, 0},         {out.write, 1},
              {err.write, 2},       {status.write, kBootstrapStatusFd},
              {prog, kProgramFd},   {nonce_fd, kBootstrapNonceFd},
              {info.write, kInfoFd}};
  spec.rlimits = rlimits_for(l, /*with_cpu=*/true, /*with_nproc=*/false);
  spec.uid = options_.unprivileged_uid;
  spec.gid = options_.unprivileged_uid;
  const pid_t pid = spawn_process(spec);
  for (int* fd : {&out.write, &err.write, &status.write, &info.write, &prog, &nonce_fd, &devnull}) close_fd(*fd);

  SuperviseLimits sl;
  sl.timeout_s = timeout_s;
  sl.keep_bytes = l.output_keep_bytes;
  sl.kill_after_bytes = l.output_kill_bytes;
  sl.counted_streams = 2;
  NamespaceInit init;
  sl.on_output = [&init](pid_t bwrap_pid, const std::vector<CapturedStream>& streams) { init.track(bwrap_pid, streams[3].data); };
  sl.kill = [&init](pid_t bwrap_pid, const std::vector<CapturedStream>& streams) {
    init.track(bwrap_pid, streams[3].data);
    return init.kill();
  };
  std::vector<int> fds = {out.read, err.read, status.read, info.read};
  out.read = err.read = status.read = info.read = -1;  // run_supervised owns them now
  SupervisedResult sup = run_supervised(pid, fds, sl);
  // bwrap is gone; its namespace may not be yet (see NamespaceInit). The program has ended, so
  // whatever it left behind goes now, and the run returns only once it is gone.
  if (!init.kill_and_wait(5000)) return sandbox_error("processes of the sandbox were still alive 5 s after it ended", true);
  RunEnd end;
  end.streams = std::move(sup.streams);
  end.timed_out = sup.timed_out;
  end.output_limit = sup.output_limit;
  end.status_known = true;
  end.exited = sup.exited;
  end.exit_code = sup.exit_code;
  end.signal = sup.signal;
  end.signal_in_exit_code = true;
  end.seconds = sup.seconds;
  return classify(end, nonce, l, /*sandboxed=*/true);
}

SandboxResult Sandbox::run_unsafe(const std::string& program) const {
  namespace fs = std::filesystem;
  const SandboxLimits& l = options_.limits;
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/sparkbench-sbx-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return sandbox_error(cat("mkdtemp ", tmpl, ": ", strerror(errno)), false);
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  const bool drop = options_.unprivileged_uid >= 0 && ::geteuid() == 0;
  if (drop && ::chown(dir.c_str(), uid_t(options_.unprivileged_uid), gid_t(options_.unprivileged_uid)) != 0)
    return sandbox_error(cat("chown ", dir, ": ", strerror(errno)), false);
  const std::string path = dir + "/prog.py";
  {
    std::ofstream f(path, std::ios::binary);
    f << program;
    if (!f.flush()) return sandbox_error("cannot write " + path, false);
  }
  const std::string nonce = random_nonce();
  int nonce_fd = -1, devnull = -1;
  Pipe out, err, status;
  FdCloser closer{&nonce_fd, &devnull, &out.read, &out.write, &err.read, &err.write, &status.read, &status.write};
  nonce_fd = prefilled_pipe(nonce);
  devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return sandbox_error(cat("/dev/null: ", strerror(errno)), false);
  out = make_pipe();
  err = make_pipe();
  status = make_pipe();

  SpawnSpec spec;
  spec.path = options_.python;
  // Without a user namespace the kernel counts every process of the user, so the process
  // limit is applied only when the program runs as the dedicated unprivileged user.
  spec.argv = {options_.python, "-s", "-S", "-B", "-c", python_bootstrap(path, drop ? l.max_processes : 0)};
  spec.env = base_env(dir);
  spec.cwd = dir;
  spec.fds = {{devnull, 0}, {out.write, 1}, {err.write, 2}, {status.write, kBootstrapStatusFd}, {nonce_fd, kBootstrapNonceFd}};
  spec.rlimits = rlimits_for(l, /*with_cpu=*/true, /*with_nproc=*/false);
  spec.uid = options_.unprivileged_uid;
  spec.gid = options_.unprivileged_uid;
  const pid_t pid = spawn_process(spec);
  for (int* fd : {&out.write, &err.write, &status.write, &nonce_fd, &devnull}) close_fd(*fd);

  SuperviseLimits sl;
  sl.timeout_s = l.timeout_s;
  sl.keep_bytes = l.output_keep_bytes;
  sl.kill_after_bytes = l.output_kill_bytes;
  sl.counted_streams = 2;
  std::vector<int> fds = {out.read, err.read, status.read};
  out.read = err.read = status.read = -1;
  SupervisedResult sup = run_supervised(pid, fds, sl);
  RunEnd end;
  end.streams = std::move(sup.streams);
  end.timed_out = sup.timed_out;
  end.output_limit = sup.output_limit;
  end.status_known = true;
  end.exited = sup.exited;
  end.exit_code = sup.exit_code;
  end.signal = sup.signal;
  end.seconds = sup.seconds;
  return classify(end, nonce, l, /*sandboxed=*/false);
}

std::vector<SandboxResult> Sandbox::check_all(const std::vector<std::string>& programs, int workers,
                                              const SandboxProgress& progress) const {
  const size_t n = programs.size();
  std::vector<SandboxResult> results(n);
  if (n == 0) return results;
  if (workers <= 0) workers = int(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n_threads = std::min<size_t>(size_t(workers), n);
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  size_t done = 0;
  std::exception_ptr error;
  auto work = [&] {
    try {
      SandboxWorker worker(*this);
      for (;;) {
        if (stop.load()) return;
        const size_t i = next.fetch_add(1);
        if (i >= n) return;
        results[i] = worker.run(programs[i]);
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        if (progress) progress(done, n);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      stop.store(true);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(n_threads);
  for (size_t t = 0; t < n_threads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace sb
