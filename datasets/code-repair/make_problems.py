#!/usr/bin/env python3
"""Builds problems.jsonl of the code-repair suite from the item definitions in items.py.

Usage: python3 datasets/code-repair/make_problems.py [--out problems.jsonl]

Each definition gives the correct (canonical) function, the edits that turn it into the buggy
version, the bug kind and the hidden tests. For every item this script
  * applies the edits (each old text must occur exactly once in the canonical function),
  * runs the buggy function on the tests, one statement at a time, in a fresh `python3 -I`
    process (5 s limit), and shows the model the statements up to the first one that fails
    with what went wrong ("returned 3, expected 4", "IndexError: list index out of range"),
  * refuses to write the file when the buggy version passes every test or the canonical one
    fails any (the harness check, `sparkbench score-code --check-problems`, checks the written
    file again in the sandbox).
It also writes n_items and sha256 into manifest.json. Standard library only; items are in
definition order.
"""

import argparse
import ast
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import items  # noqa: E402

RAISES_HELPER = '''def _raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return True
    return False


'''

# Runs test statements one by one against the function and prints one JSON line per
# statement: {"ok": bool, "detail": str}. Stops at the first failure.
PROBE = r'''
import json, sys
src = sys.stdin.read()
spec = json.loads(src)
ns = {}
exec(spec["helper"] + spec["function"], ns)
fn = ns[spec["entry_point"]]
def show(v):
    r = repr(v)
    return r if len(r) <= 200 else r[:197] + "..."
for stmt in spec["tests"]:
    local = dict(ns)
    local["candidate"] = fn
    node = compile(stmt, "<test>", "exec")
    detail = ""
    ok = True
    try:
        tree = __import__("ast").parse(stmt)
        s0 = tree.body[0]
        A = __import__("ast")
        if isinstance(s0, A.Assert) and isinstance(s0.test, A.Compare) and len(s0.test.ops) == 1 and isinstance(s0.test.ops[0], (A.Eq, A.Is)):
            left = eval(compile(A.Expression(s0.test.left), "<t>", "eval"), local)
            right = eval(compile(A.Expression(s0.test.comparators[0]), "<t>", "eval"), local)
            same = (left == right) if isinstance(s0.test.ops[0], A.Eq) else left is right
            if not same:
                ok = False
                detail = "AssertionError: got " + show(left) + ", expected " + show(right)
        else:
            exec(node, local)
    except AssertionError as e:
        ok = False
        detail = "AssertionError" + (": " + str(e) if str(e) else "")
    except BaseException as e:
        ok = False
        detail = type(e).__name__ + (": " + str(e) if str(e) else "")
    print(json.dumps({"ok": ok, "detail": detail}), flush=True)
    if not ok:
        break
'''


def probe(function, entry_point, tests):
    spec = {"helper": RAISES_HELPER, "function": function, "entry_point": entry_point, "tests": tests}
    try:
        p = subprocess.run([sys.executable, "-I", "-c", PROBE], input=json.dumps(spec), capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return None, "timed out (5 s)"
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 and (not lines or lines[-1]["ok"]):
        return len(lines), "crashed: " + p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "crashed"
    for i, r in enumerate(lines):
        if not r["ok"]:
            return i, r["detail"]
    return -1, ""


def build(defn, index):
    kind, fixed, edits, tests = defn["kind"], textwrap.dedent(defn["fixed"]).strip("\n") + "\n", defn["edits"], defn["tests"]
    tree = ast.parse(fixed)
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(fns) != 1:
        raise SystemExit(f"item {index}: the canonical source must define exactly one function")
    entry = fns[0].name
    buggy = fixed
    for old, new in edits:
        if buggy.count(old) != 1:
            raise SystemExit(f"item {index} ({entry}): edit text {old!r} occurs {buggy.count(old)} times, not once")
        buggy = buggy.replace(old, new)
    if buggy == fixed:
        raise SystemExit(f"item {index} ({entry}): the edits change nothing")
    ast.parse(buggy)
    at, detail = probe(fixed, entry, tests)
    if at != -1:
        raise SystemExit(f"item {index} ({entry}): the canonical function fails test {at}: {detail}")
    at, detail = probe(buggy, entry, tests)
    if at == -1:
        raise SystemExit(f"item {index} ({entry}): the buggy function passes every test")
    shown = tests if at is None else tests[: at + 1]
    shown_text = "\n".join("# >>> " + t.replace("candidate", entry) for t in shown)
    prompt = (
        "# The Python function below has a bug.\n\n"
        + buggy
        + "\n\n# Running these statements in order fails at the last one:\n"
        + shown_text
        + "\n# "
        + detail
        + "\n\n# The same function with the bug fixed:\n"
    )
    test = RAISES_HELPER + "def check(candidate):\n" + "".join("    " + t + "\n" for t in tests)
    return {
        "task_id": f"code-repair/{index}",
        "prompt": prompt,
        "entry_point": entry,
        "canonical_solution": fixed,
        "test": test,
        "buggy_solution": buggy,
        "bug_type": kind,
        "failing_test": "\n".join(t.replace("candidate", entry) for t in shown),
        "error": detail,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "problems.jsonl"))
    a = ap.parse_args()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(lambda a: build(*a), [(d, i) for i, d in enumerate(items.ITEMS)]))
    kinds = {}
    for r in out:
        kinds[r["bug_type"]] = kinds.get(r["bug_type"], 0) + 1
    with open(a.out, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    # keep the manifest's item count and checksum in step with the data
    mpath = os.path.join(HERE, "manifest.json")
    if os.path.abspath(a.out) == os.path.join(HERE, "problems.jsonl") and os.path.exists(mpath):
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)
        manifest["n_items"] = len(out)
        with open(a.out, "rb") as f:
            manifest["sha256"] = hashlib.sha256(f.read()).hexdigest()
        with open(mpath, "w", encoding="utf-8") as f:
            f.write(json.dumps(manifest, indent=2) + "\n")
    print(f"{a.out}: {len(out)} items; " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))


if __name__ == "__main__":
    main()
