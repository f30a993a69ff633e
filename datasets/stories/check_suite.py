#!/usr/bin/env python3
"""Validate the bundled `stories` suite (cloze-style 4-way multiple choice).

Usage: python3 check_suite.py [DATASET_DIR]

DATASET_DIR defaults to the directory containing this script. Standard library
only. Prints a summary and exits 1 if any check fails.

Checks:
  * data.jsonl is UTF-8, one JSON object per line, no blank lines, ends with a newline
  * every item has exactly the fields id/group/context/choices/answer with the right types;
    group is easy, in_domain or knowledge
  * easy group: the gold is the unique shortest choice (characters) in at most 40% of items
  * ids are "stories/<n>", consecutive from 0 in file order
  * context: non-empty, no surrounding whitespace, no newlines or tabs, at most 4 sentences
    (counted as sentence-ending punctuation followed by a space), does not end in
    sentence-final punctuation (it stops mid-sentence)
  * choices: exactly 4 strings, each starting with a single space followed by a
    non-space character, no newlines/tabs, pairwise distinct (case- and
    whitespace-insensitive)
  * answer: an int (not bool) in 0..3
  * answer positions balanced: each position holds 15%-35% of the items
  * no duplicate contexts (case- and whitespace-insensitive)
  * at least MIN_ITEMS items
  * manifest.json: required keys and values, n_items matches the data, the data file
    and field names agree, sha256 is "" (not yet computed) or matches data.jsonl
  * README.md exists and is non-empty
"""
import collections
import hashlib
import json
import os
import re
import sys

NAME = "stories"
MIN_ITEMS = 160
N_CHOICES = 4
POS_LO, POS_HI = 0.15, 0.35
MAX_SENTENCES = 4
FIELDS = {"id": str, "group": str, "context": str, "choices": list, "answer": int}
GROUPS = ("easy", "in_domain", "knowledge")
MANIFEST_FIXED = {
    "name": NAME,
    "version": "2",
    "license": "project-written, same license as sparkbench",
    "task": "multiple_choice",
    "metrics": ["acc", "acc_norm"],
    "prompt_template": "{context}",
    "choices_field": "choices",
    "answer_field": "answer",
}


def norm(s):
    return " ".join(s.split()).lower()


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    errors = []
    err = errors.append

    manifest = None
    data_name = "data.jsonl"
    mpath = os.path.join(root, "manifest.json")
    if not os.path.exists(mpath):
        err("manifest.json: missing")
    else:
        try:
            with open(mpath, encoding="utf-8") as f:
                manifest = json.load(f)
            if not isinstance(manifest, dict):
                err("manifest.json: not a JSON object")
                manifest = None
            else:
                data_name = manifest.get("data", data_name)
        except (OSError, ValueError) as e:
            err("manifest.json: cannot parse: %s" % e)

    dpath = os.path.join(root, data_name)
    try:
        with open(dpath, "rb") as f:
            raw = f.read()
    except OSError as e:
        print("FAIL: %s" % e)
        return 1
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print("FAIL: %s: not UTF-8: %s" % (data_name, e))
        return 1
    if text and not text.endswith("\n"):
        err("%s: does not end with a newline" % data_name)

    items = []
    easy_total = [0, 0]  # easy items, easy items whose gold is the unique shortest choice
    for ln, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = "%s:%d" % (data_name, ln)
        if not line.strip():
            err("%s: blank line" % where)
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            err("%s: invalid JSON: %s" % (where, e))
            continue
        if not isinstance(obj, dict):
            err("%s: not a JSON object" % where)
            continue
        items.append((where, obj))

    positions = collections.Counter()
    seen_ctx = {}
    for idx, (where, obj) in enumerate(items):
        if set(obj) != set(FIELDS):
            err("%s: fields %s, expected %s" % (where, sorted(obj), sorted(FIELDS)))
            continue
        bad = False
        for k, t in FIELDS.items():
            v = obj[k]
            if not isinstance(v, t) or (t is int and isinstance(v, bool)):
                err("%s: field %r should be %s" % (where, k, t.__name__))
                bad = True
        if bad:
            continue
        if obj["id"] != "%s/%d" % (NAME, idx):
            err("%s: id %r, expected %r" % (where, obj["id"], "%s/%d" % (NAME, idx)))
        if obj["group"] not in GROUPS:
            err("%s: group %r is not one of %s" % (where, obj["group"], ", ".join(GROUPS)))
        elif obj["group"] == "easy" and len(obj["choices"]) == 4 and isinstance(obj["answer"], int) and 0 <= obj["answer"] < 4:
            lens = [len(c) for c in obj["choices"]]
            easy_total[0] += 1
            if lens[obj["answer"]] == min(lens) and lens.count(min(lens)) == 1:
                easy_total[1] += 1
        ctx = obj["context"]
        if not ctx or ctx != ctx.strip():
            err("%s: context empty or has surrounding whitespace" % where)
        if any(c in ctx for c in "\n\r\t"):
            err("%s: context contains a newline or tab" % where)
        n_sent = len(re.findall(r'[.!?]["\']? ', ctx)) + 1
        if n_sent > MAX_SENTENCES:
            err("%s: context has %d sentences (max %d)" % (where, n_sent, MAX_SENTENCES))
        if ctx.endswith((".", "!", "?")):
            err("%s: context ends a sentence; it should stop mid-sentence" % where)
        key = norm(ctx)
        if key in seen_ctx:
            err("%s: duplicate context (same as %s)" % (where, seen_ctx[key]))
        else:
            seen_ctx[key] = obj["id"]
        ch = obj["choices"]
        if len(ch) != N_CHOICES:
            err("%s: %d choices, expected %d" % (where, len(ch), N_CHOICES))
        if not all(isinstance(c, str) for c in ch):
            err("%s: every choice must be a string" % where)
            continue
        for c in ch:
            if not re.match(r"^ \S", c) or c != c.rstrip():
                err("%s: choice %r must start with one space and have no trailing space" % (where, c))
            if any(x in c for x in "\n\r\t"):
                err("%s: choice %r contains a newline or tab" % (where, c))
        if len({norm(c) for c in ch}) != len(ch):
            err("%s: duplicate choices" % where)
        a = obj["answer"]
        if not 0 <= a < len(ch):
            err("%s: answer %d out of range" % (where, a))
        else:
            positions[a] += 1

    n = len(items)
    if n < MIN_ITEMS:
        err("only %d items (minimum %d)" % (n, MIN_ITEMS))
    if n:
        for p in range(N_CHOICES):
            frac = positions[p] / n
            if not POS_LO <= frac <= POS_HI:
                err("answer position %d holds %.1f%% of items (allowed %.0f%%-%.0f%%)"
                    % (p, 100 * frac, 100 * POS_LO, 100 * POS_HI))

    if manifest is not None:
        for k, v in MANIFEST_FIXED.items():
            if manifest.get(k) != v:
                err("manifest.json: %s is %r, expected %r" % (k, manifest.get(k), v))
        if not isinstance(manifest.get("description"), str) or not manifest["description"].strip():
            err("manifest.json: description missing or empty")
        if manifest.get("data") != "data.jsonl":
            err("manifest.json: data is %r, expected 'data.jsonl'" % manifest.get("data"))
        if manifest.get("n_items") != n:
            err("manifest.json: n_items is %r, data has %d" % (manifest.get("n_items"), n))
        sha = manifest.get("sha256")
        if sha not in ("", hashlib.sha256(raw).hexdigest()):
            err("manifest.json: sha256 %r does not match %s" % (sha, data_name))
        tmpl = manifest.get("prompt_template", "")
        for field in re.findall(r"{(\w+)}", tmpl):
            if field not in FIELDS:
                err("manifest.json: prompt_template names unknown field %r" % field)

    if easy_total[0] and easy_total[1] > 0.40 * easy_total[0]:
        err("easy group: the gold is the unique shortest choice in %d of %d items (> 40%%): length gives it away"
            % (easy_total[1], easy_total[0]))

    rpath = os.path.join(root, "README.md")
    if not os.path.exists(rpath) or not open(rpath, encoding="utf-8").read().strip():
        err("README.md: missing or empty")

    print("%s: %d items, answer positions %s" % (
        NAME, n, ", ".join("%d: %d (%.1f%%)" % (p, positions[p], 100 * positions[p] / n if n else 0)
                           for p in range(N_CHOICES))))
    if errors:
        for e in errors[:50]:
            print("  FAIL: " + e)
        if len(errors) > 50:
            print("  ... and %d more" % (len(errors) - 50))
        print("FAILED (%d problems)" % len(errors))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
