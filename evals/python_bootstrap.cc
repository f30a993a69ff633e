#include "evals/python_bootstrap.h"

#include <cstdio>

namespace sb {

namespace {

// A Python string literal for any text: every byte outside printable ASCII (and the quote and
// backslash) as an escape, so the path cannot end the literal early.
std::string py_literal(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'";
}

}  // namespace

std::string python_bootstrap(const std::string& program_path, uint64_t max_processes) {
  // Everything lives in one function's locals so that the program starts with a clean __main__;
  // the program's own globals are the real __main__ module's dict (pickle, dataclasses and
  // `if __name__ == "__main__"` behave as for a script).
  std::string s;
  s += "def _sb_main():\n";
  s += "    import os, sys, builtins\n";
  s += "    w = os.write\n";
  s += "    w(3, b'S')\n";
  s += "    nonce = os.read(5, 256)\n";
  s += "    os.closerange(4, 256)\n";
  if (max_processes > 0) {
    s += "    import resource\n";
    s += "    resource.setrlimit(resource.RLIMIT_NPROC, (" + std::to_string(max_processes) + ", " + std::to_string(max_processes) + "))\n";
  }
  s += "    import _sitebuiltins\n";
  s += "    builtins.exit = _sitebuiltins.Quitter('exit', 'Ctrl-D (i.e. EOF)')\n";
  s += "    builtins.quit = _sitebuiltins.Quitter('quit', 'Ctrl-D (i.e. EOF)')\n";
  s += "    path = " + py_literal(program_path) + "\n";
  s += "    with open(path, 'rb') as f:\n";
  s += "        code = compile(f.read(), path, 'exec', dont_inherit=True)\n";
  s += "    main = sys.modules['__main__'].__dict__\n";
  s += "    main.clear()\n";
  s += "    main.update(__name__='__main__', __doc__=None, __package__=None, __loader__=None, __spec__=None,\n";
  s += "                __file__=path, __cached__=None, __builtins__=builtins)\n";
  s += "    sys.argv[:] = [path]\n";
  s += "    sys.path[0] = os.path.dirname(path)\n";
  s += "    run = builtins.exec\n";
  s += "    del os, sys, builtins, f\n";
  s += "    run(code, main)\n";
  s += "    w(3, nonce)\n";
  s += "_sb_main()\n";
  return s;
}

namespace {

// The fork server, with @NAME@ placeholders filled in by python_fork_server().
constexpr const char* kForkServer = R"PY(
import os, sys, _socket, array, signal, resource, ctypes, types, stat, builtins, _sitebuiltins

def _sb_server():
    # kill(-1) below must only ever reach this sandbox: refuse to run outside a PID namespace
    # whose init is our parent (bwrap --unshare-pid makes us pid 2).
    if os.getppid() != 1 or os.getpid() != 2:
        raise SystemExit('fork server: not in a fresh PID namespace')
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0: programs cannot ptrace or read us
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphaned descendants come back to us
    builtins.exit = _sitebuiltins.Quitter('exit', 'Ctrl-D (i.e. EOF)')
    builtins.quit = _sitebuiltins.Quitter('quit', 'Ctrl-D (i.e. EOF)')
    os.closerange(4, 1024)
    # Modules that completions and tests commonly import, loaded once here instead of once per
    # program (a forked child gets them for free).
    for name in @PRELOAD@:
        try:
            __import__(name)
        except Exception:
            pass
    ctl = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0, 3)

    def receive():
        # One request and the descriptors that came with it (socket.recv_fds without the
        # cost of importing the socket module).
        msg, anc, _, _ = ctl.recvmsg(256, _socket.CMSG_SPACE(8 * array.array('i').itemsize))
        fds = array.array('i')
        for level, kind, data in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        return msg, list(fds)
    path = @PATH@
    scratch = @SCRATCH@
    limits = [(resource.RLIMIT_CPU, @CPU@, @CPU@ + 1), (resource.RLIMIT_AS, @AS@, @AS@),
              (resource.RLIMIT_FSIZE, @FSIZE@, @FSIZE@), (resource.RLIMIT_NOFILE, @NOFILE@, @NOFILE@),
              (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_NPROC, @NPROC@, @NPROC@)]
    prog_dir = os.path.dirname(path)

    def wipe(top):
        ok = True
        try:
            os.chmod(top, 0o755)
        except OSError:
            ok = False
        stack, dirs = [top], []
        while stack:
            d = stack.pop()
            dirs.append(d)
            try:
                names = os.listdir(d)
            except OSError:
                ok = False
                continue
            for n in names:
                p = d + '/' + n
                try:
                    if stat.S_ISDIR(os.lstat(p).st_mode):
                        os.chmod(p, 0o700)
                        stack.append(p)
                    else:
                        os.unlink(p)
                except OSError:
                    ok = False
        for d in reversed(dirs[1:]):
            try:
                os.rmdir(d)
            except OSError:
                ok = False
        return ok

    def finish(code):
        try:
            t = sys.modules.get('threading')
            if t is not None:
                t._shutdown()
        except BaseException:
            pass
        try:
            import atexit
            atexit._run_exitfuncs()
        except BaseException:
            pass
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except BaseException:
                pass
        os._exit(code)

    def child(out, err, st, nonce):
        code = 1
        try:
            os.setsid()
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.dup2(st, 3)
            os.closerange(4, 1024)
            libc.prctl(4, 1, 0, 0, 0)
            for res, soft, hard in limits:
                resource.setrlimit(res, (soft, hard))
            os.chdir(prog_dir)
            os.write(3, b'S')
            main = types.ModuleType('__main__')
            main.__file__ = path
            main.__builtins__ = builtins
            sys.modules['__main__'] = main
            sys.argv[:] = [path]
            sys.path[0] = prog_dir
            with open(path, 'rb') as f:
                code_obj = compile(f.read(), path, 'exec', dont_inherit=True)
            exec(code_obj, main.__dict__)
            os.write(3, nonce)
            code = 0
        except SystemExit as e:
            c = e.code
            if c is None:
                code = 0
            elif isinstance(c, int):
                code = c & 0xff
            else:
                try:
                    print(c, file=sys.stderr)
                except BaseException:
                    pass
                code = 1
        except BaseException:
            t, v, tb = sys.exc_info()
            first = tb
            while tb is not None and tb.tb_frame.f_code.co_filename != path:
                tb = tb.tb_next
            try:
                sys.excepthook(t, v, tb if tb is not None else first)
            except BaseException:
                pass
            code = 1
        finish(code)

    # Keep the collector away from everything loaded so far, so children do not copy the
    # pages of objects they never use (the usual advice for fork servers).
    import gc
    gc.freeze()
    ctl.send(b'READY')
    while True:
        try:
            msg, fds = receive()
        except OSError:
            return
        if not msg or not msg.startswith(b'RUN ') or len(fds) != 4:
            return
        out, err, st, prog = fds
        nonce = msg[4:]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        while True:
            chunk = os.read(prog, 1 << 16)
            if not chunk:
                break
            while chunk:
                chunk = chunk[os.write(fd, chunk):]
        os.close(fd)
        os.close(prog)
        pid = os.fork()
        if pid == 0:
            child(out, err, st, nonce)
            os._exit(1)
        os.close(out)
        os.close(err)
        os.close(st)
        _, status = os.waitpid(pid, 0)
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        clean = all([wipe(d) for d in scratch])
        ctl.send(b'DONE %d %d' % (status, 1 if clean else 0))

_sb_server()
)PY";

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

std::vector<std::string> default_preload_modules() {
  return {"typing", "collections", "itertools", "functools", "math",     "re",       "heapq",
          "bisect", "string",      "copy",      "operator",  "datetime", "fractions"};
}

std::string python_fork_server(const ForkServerConfig& c) {
  std::string s = kForkServer;
  std::string dirs = "[";
  for (const auto& d : c.scratch_dirs) dirs += py_literal(d) + ", ";
  dirs += "]";
  replace_all(s, "@PATH@", py_literal(c.program_path));
  replace_all(s, "@SCRATCH@", dirs);
  std::string preload = "[";
  for (const auto& m : c.preload) preload += py_literal(m) + ", ";
  preload += "]";
  replace_all(s, "@PRELOAD@", preload);
  replace_all(s, "@CPU@", std::to_string(c.cpu_seconds));
  replace_all(s, "@AS@", std::to_string(c.address_space_bytes));
  replace_all(s, "@FSIZE@", std::to_string(c.file_size_bytes));
  replace_all(s, "@NOFILE@", std::to_string(c.open_files));
  replace_all(s, "@NPROC@", std::to_string(c.max_processes));
  return s;
}

}  // namespace sb
