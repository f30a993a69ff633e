#!/usr/bin/env python3
"""Self-check for the code-python evaluation suite (problems.jsonl).

For every problem this script verifies:

  structure  - the record has exactly the fields task_id, prompt,
               entry_point, canonical_solution and test (all strings);
               task_ids are "code-python/0", "code-python/1", ... in order;
               the prompt parses with ``ast``, ends with a newline and
               defines ``entry_point`` at top level; the canonical solution
               is an indented function body; prompt + solution parses; the
               test defines ``check(candidate)`` containing at least
               ``--min-asserts`` (default 3) assert statements; imports in
               prompt and test are standard-library modules and none of
               them is a network/process/randomness module.
  canonical  - prompt + canonical_solution + "\\n" + test + "\\n" +
               "check(<entry_point>)\\n" exits with status 0 in a fresh
               interpreter within the timeout (this is exactly how the
               harness assembles a program from a completion).
  mutants    - the same program with the body replaced by "    pass\\n",
               "    return None\\n", a set of other constant returns
               (0, 1, -1, "", [], {}, (), True, False) and "return <first
               argument>" must exit non-zero: the tests really assert
               something and no single constant satisfies them.
  doctests   - the ">>>" examples in each prompt's docstring agree with
               the canonical solution.

Usage:
    python3 check_suite.py [problems.jsonl] [--jobs N] [--timeout S]
                           [--python PATH] [--min-asserts N] [--verbose]

Only the Python standard library is used. Exit status is 0 when every
check passes and 1 otherwise.
"""

import argparse
import ast
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

EXPECTED_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
TASK_PREFIX = "code-python/"

# Constant bodies that must all be rejected by the tests.
CONSTANT_MUTANTS = [
    ("pass", "    pass\n"),
    ("return None", "    return None\n"),
    ("return 0", "    return 0\n"),
    ("return 1", "    return 1\n"),
    ("return -1", "    return -1\n"),
    ("return ''", "    return ''\n"),
    ("return []", "    return []\n"),
    ("return {}", "    return {}\n"),
    ("return ()", "    return ()\n"),
    ("return True", "    return True\n"),
    ("return False", "    return False\n"),
]

# Modules that tests/prompts must not import (I/O, network, processes,
# nondeterminism).
FORBIDDEN_MODULES = {
    "os", "sys", "subprocess", "socket", "urllib", "http", "ftplib", "smtplib",
    "random", "secrets", "threading", "multiprocessing", "asyncio", "shutil",
    "tempfile", "pathlib", "io", "ctypes", "signal", "time", "uuid",
}

DOCTEST_FOOTER = (
    "\n\nimport doctest as _doctest, sys as _sys\n"
    "_res = _doctest.testmod(_sys.modules['__main__'], verbose=False, "
    "optionflags=_doctest.NORMALIZE_WHITESPACE)\n"
    "print('DOCTEST attempted=%d failed=%d' % (_res.attempted, _res.failed))\n"
    "_sys.exit(1 if _res.failed else 0)\n"
)


def assemble(prompt, body, test, entry_point):
    """Build the program exactly as the harness does."""
    return prompt + body + "\n" + test + "\n" + "check(%s)\n" % entry_point


def run_program(python, source, timeout, workdir):
    """Run ``source`` in a fresh isolated interpreter.

    Returns (returncode or None on timeout, seconds, combined output tail).
    """
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, "-I", "-c", source],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8",
                 "LC_ALL": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, "timeout"
    elapsed = time.perf_counter() - start
    out = proc.stdout.decode("utf-8", "replace")
    return proc.returncode, elapsed, out[-1500:]


def module_roots(tree):
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                roots.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots


def static_checks(index, record, min_asserts):
    """Return (errors, info) for one record without running anything."""
    errors = []
    info = {}
    if not isinstance(record, dict):
        return ["record is not a JSON object"], info
    keys = set(record)
    missing = [k for k in EXPECTED_FIELDS if k not in keys]
    extra = sorted(keys - set(EXPECTED_FIELDS))
    if missing:
        errors.append("missing fields: %s" % ", ".join(missing))
    if extra:
        errors.append("unexpected fields: %s" % ", ".join(extra))
    for k in EXPECTED_FIELDS:
        if k in record and not isinstance(record[k], str):
            errors.append("field %s is not a string" % k)
    if errors:
        return errors, info

    expected_id = "%s%d" % (TASK_PREFIX, index)
    if record["task_id"] != expected_id:
        errors.append("task_id %r, expected %r" % (record["task_id"], expected_id))

    prompt = record["prompt"]
    body = record["canonical_solution"]
    test = record["test"]
    entry = record["entry_point"]

    if not entry.isidentifier():
        errors.append("entry_point %r is not an identifier" % entry)
    if not prompt.endswith("\n"):
        errors.append("prompt does not end with a newline")

    try:
        ptree = ast.parse(prompt)
    except SyntaxError as exc:
        errors.append("prompt does not parse: %s" % exc)
        ptree = None
    if ptree is not None:
        funcs = [n for n in ptree.body if isinstance(n, ast.FunctionDef)]
        target = [f for f in funcs if f.name == entry]
        if not target:
            errors.append("entry_point %r is not defined at top level of the prompt" % entry)
        else:
            fn = target[-1]
            if ast.get_docstring(fn) is None:
                errors.append("entry point has no docstring")
            params = fn.args.posonlyargs + fn.args.args
            info["first_arg"] = params[0].arg if params else None
            info["doctests"] = (ast.get_docstring(fn) or "").count(">>>")
        if ptree.body and not isinstance(ptree.body[-1], ast.FunctionDef):
            errors.append("prompt does not end with a function definition")
        for mod in module_roots(ptree):
            if mod in FORBIDDEN_MODULES:
                errors.append("prompt imports forbidden module %r" % mod)
            elif hasattr(sys, "stdlib_module_names") and mod not in sys.stdlib_module_names:
                errors.append("prompt imports non-stdlib module %r" % mod)

    if not body.strip():
        errors.append("canonical_solution is empty")
    for line in body.splitlines():
        if line.strip() and not line.startswith("    "):
            errors.append("canonical_solution line not indented by 4 spaces: %r" % line)
            break
    try:
        ast.parse(prompt + body)
    except SyntaxError as exc:
        errors.append("prompt + canonical_solution does not parse: %s" % exc)

    try:
        ttree = ast.parse(test)
    except SyntaxError as exc:
        errors.append("test does not parse: %s" % exc)
        ttree = None
    if ttree is not None:
        checks = [n for n in ttree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
        if not checks:
            errors.append("test does not define check()")
        else:
            chk = checks[-1]
            nparams = len(chk.args.posonlyargs + chk.args.args)
            if nparams != 1:
                errors.append("check() must take exactly one parameter")
            n_asserts = sum(isinstance(n, ast.Assert) for n in ast.walk(chk))
            info["asserts"] = n_asserts
            if n_asserts < min_asserts:
                errors.append("check() has %d assert statements, need >= %d" % (n_asserts, min_asserts))
        for mod in module_roots(ttree):
            if mod in FORBIDDEN_MODULES:
                errors.append("test imports forbidden module %r" % mod)
            elif hasattr(sys, "stdlib_module_names") and mod not in sys.stdlib_module_names:
                errors.append("test imports non-stdlib module %r" % mod)
    return errors, info


def dynamic_checks(record, info, python, timeout, workdir):
    """Run the canonical program, the mutants and the doctests."""
    errors = []
    notes = []
    prompt = record["prompt"]
    test = record["test"]
    entry = record["entry_point"]

    rc, elapsed, out = run_program(python, assemble(prompt, record["canonical_solution"], test, entry),
                                   timeout, workdir)
    if rc != 0:
        errors.append("canonical solution fails (%s):\n%s" % ("timeout" if rc is None else "exit %d" % rc, out))
    canonical_time = elapsed

    mutants = list(CONSTANT_MUTANTS)
    if info.get("first_arg"):
        mutants.append(("return first argument", "    return %s\n" % info["first_arg"]))
    for label, body in mutants:
        rc, _, out = run_program(python, assemble(prompt, body, test, entry), timeout, workdir)
        if rc == 0:
            errors.append("tests pass with mutant body %r" % label)
        elif rc is None:
            notes.append("mutant %r timed out (counted as failing)" % label)

    if info.get("doctests"):
        rc, _, out = run_program(python, prompt + record["canonical_solution"] + DOCTEST_FOOTER,
                                 timeout, workdir)
        if rc != 0:
            errors.append("docstring examples disagree with canonical solution:\n%s" % out)
    return errors, notes, canonical_time


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=os.path.join(here, "problems.jsonl"))
    parser.add_argument("--jobs", type=int, default=max(1, min(8, (os.cpu_count() or 1) * 2)))
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds allowed per program run (default 10)")
    parser.add_argument("--python", default=sys.executable or "python3",
                        help="interpreter used to run the programs (default: this one)")
    parser.add_argument("--min-asserts", type=int, default=3)
    parser.add_argument("--slow", type=float, default=0.5,
                        help="warn when a canonical run exceeds interpreter start-up by this many seconds")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)

    records = []
    failures = []
    with open(args.path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                failures.append(("line %d" % lineno, ["blank line in JSONL file"]))
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                failures.append(("line %d" % lineno, ["invalid JSON: %s" % exc]))
    if not records:
        print("no problems found in %s" % args.path)
        return 1

    ids = [r.get("task_id") for r in records if isinstance(r, dict)]
    if len(set(ids)) != len(ids):
        failures.append(("suite", ["duplicate task_ids"]))
    entries = [r.get("entry_point") for r in records if isinstance(r, dict)]
    if len(set(entries)) != len(entries):
        failures.append(("suite", ["duplicate entry_points"]))

    infos = []
    for i, rec in enumerate(records):
        errs, info = static_checks(i, rec, args.min_asserts)
        infos.append(info)
        if errs:
            failures.append((rec.get("task_id", "#%d" % i) if isinstance(rec, dict) else "#%d" % i, errs))
    statically_ok = {i for i, rec in enumerate(records)
                     if isinstance(rec, dict) and not any(
                         name == rec.get("task_id") for name, _ in failures)}

    with tempfile.TemporaryDirectory(prefix="code-python-check-") as workdir:
        rc, startup, _ = run_program(args.python, "pass", args.timeout, workdir)
        if rc != 0:
            print("cannot run interpreter %s" % args.python)
            return 1
        timings = []
        notes_all = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(dynamic_checks, records[i], infos[i], args.python, args.timeout, workdir): i
                       for i in sorted(statically_ok)}
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                errs, notes, t = fut.result()
                timings.append((t, records[i]["task_id"]))
                notes_all.extend("%s: %s" % (records[i]["task_id"], n) for n in notes)
                if errs:
                    failures.append((records[i]["task_id"], errs))
                if args.verbose:
                    print("%-16s %s %.3fs" % (records[i]["task_id"], "FAIL" if errs else "ok", t))

    def sort_key(item):
        name = item[0]
        if name.startswith(TASK_PREFIX) and name[len(TASK_PREFIX):].isdigit():
            return (0, int(name[len(TASK_PREFIX):]))
        return (1, name)

    for note in sorted(notes_all):
        print("note: " + note)
    timings.sort(reverse=True)
    slow = [(t, tid) for t, tid in timings if t - startup > args.slow]
    for t, tid in slow:
        print("warning: %s canonical run took %.2fs (interpreter start-up %.2fs)" % (tid, t, startup))

    n_asserts = [info.get("asserts", 0) for info in infos]
    print("code-python suite: %d problems, %d assert statements (min %d, median %d per problem)"
          % (len(records), sum(n_asserts), min(n_asserts), sorted(n_asserts)[len(n_asserts) // 2]))
    if timings:
        print("slowest canonical run: %s %.2fs (interpreter start-up %.2fs)"
              % (timings[0][1], timings[0][0], startup))
    mutant_count = len(CONSTANT_MUTANTS) + 1
    if failures:
        for name, errs in sorted(failures, key=sort_key):
            for e in errs:
                print("FAIL %s: %s" % (name, e))
        print("%d problem(s) failed, %d problems total" % (len({n for n, _ in failures}), len(records)))
        return 1
    print("all checks passed: %d problems; canonical solutions pass, %d mutant bodies per problem "
          "(pass, return None, constants, identity) fail, doctest examples agree, structure valid"
          % (len(records), mutant_count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
