#!/usr/bin/env python3
"""Validate the bundled text eval suites: datasets/qa, datasets/sentiment, datasets/topic.

Standard library only. Usage:

    python3 datasets/check_text_suites.py [--root DATASETS_DIR] [suite ...]

Checks, per suite:
  * data.jsonl is UTF-8, one JSON object per line, no blank lines, ends with a newline
  * exactly the required fields, with the right types; strings non-empty, no
    surrounding whitespace, no embedded newlines
  * ids are "<suite>/<n>", unique and consecutive from 0 in file order
  * no duplicate texts (classification) / questions (qa), compared case- and
    whitespace-insensitively
  * qa: every answer occurs verbatim in its context; canonical (first) answer is
    1-4 words; no duplicate answers within an item; contexts are 2-5 sentences
  * classification: labels in the manifest label set; every label has exactly the
    same number of items (sentiment 50/50, topic 5 x equal); length limits
  * item counts meet the minimums
  * manifest.json: required keys and values, n_items matches the data, labels match,
    template placeholders name real fields, sha256 is "" (not yet computed) or matches
  * README.md exists and is non-empty
Prints a summary per suite; exits 1 if any check fails.
"""

import argparse
import collections
import hashlib
import json
import os
import re
import string
import sys

SUITES = {
    "qa": {
        "fields": {"id": str, "context": str, "question": str, "answers": list},
        "task": "generate",
        "metrics": ["exact_match", "f1"],
        "min_items": 160,
        "labels": None,
        "dedup_field": "question",
    },
    "sentiment": {
        "fields": {"id": str, "text": str, "label": str},
        "task": "multiple_choice",
        "metrics": ["acc", "acc_norm", "macro_f1"],
        "min_items": 220,
        "labels": ["positive", "negative"],
        "min_per_label": 110,
        "words": (5, 60),
        "sentences": None,
        "dedup_field": "text",
    },
    "topic": {
        "fields": {"id": str, "text": str, "label": str},
        "task": "multiple_choice",
        "metrics": ["acc", "acc_norm", "macro_f1"],
        "min_items": 250,
        "labels": ["sports", "science", "business", "technology", "arts"],
        "min_per_label": 50,
        "words": (5, 60),
        "sentences": (1, 3),
        "dedup_field": "text",
    },
}

MANIFEST_KEYS = ["name", "version", "description", "license", "task", "data",
                 "n_items", "metrics", "prompt_template", "sha256"]
ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Mt.", "vs.", "e.g.", "i.e.")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def norm(s):
    """Case/whitespace/edge-punctuation-insensitive key for duplicate detection."""
    return " ".join(s.lower().split()).strip(string.punctuation + " ")


def count_sentences(text):
    n = 0
    for m in re.finditer(r"[.!?](?=\s+[\"'A-Z0-9]|\s*$)", text):
        head = text[:m.end()]
        if any(head.endswith(a) for a in ABBREVIATIONS):
            continue
        n += 1
    return n


def n_words(s):
    return len(s.split())


class Report:
    def __init__(self, suite):
        self.suite = suite
        self.errors = []
        self.info = []

    def err(self, msg):
        self.errors.append(msg)

    def check_str(self, where, key, value):
        if not value:
            self.err(f"{where}: field '{key}' is empty")
        elif value != value.strip():
            self.err(f"{where}: field '{key}' has leading/trailing whitespace")
        elif "\n" in value or "\r" in value:
            self.err(f"{where}: field '{key}' contains a newline")


def load_jsonl(path, rep):
    rows = []
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        rep.err(f"cannot read {path}: {e}")
        return rows
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        rep.err(f"{path} is not valid UTF-8: {e}")
        return rows
    if text.startswith("\ufeff"):
        rep.err(f"{path} starts with a byte-order mark")
    if text and not text.endswith("\n"):
        rep.err(f"{path} does not end with a newline")
    for lineno, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if not line.strip():
            rep.err(f"line {lineno}: blank line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            rep.err(f"line {lineno}: invalid JSON: {e}")
            continue
        if not isinstance(obj, dict):
            rep.err(f"line {lineno}: not a JSON object")
            continue
        rows.append((lineno, obj))
    return rows


def check_items(suite, cfg, rows, rep):
    fields = cfg["fields"]
    seen_ids = set()
    seen_text = {}
    label_counts = collections.Counter()
    n_valid = 0
    for idx, (lineno, obj) in enumerate(rows):
        where = f"line {lineno}"
        keys = set(obj)
        missing = [k for k in fields if k not in keys]
        extra = sorted(keys - set(fields))
        if missing:
            rep.err(f"{where}: missing field(s) {missing}")
        if extra:
            rep.err(f"{where}: unexpected field(s) {extra}")
        bad_type = False
        for k, t in fields.items():
            if k in obj and (not isinstance(obj[k], t) or isinstance(obj[k], bool)):
                rep.err(f"{where}: field '{k}' should be {t.__name__}, got {type(obj[k]).__name__}")
                bad_type = True
        if missing or bad_type:
            continue
        n_valid += 1
        for k, t in fields.items():
            if t is str:
                rep.check_str(where, k, obj[k])

        # ids
        expected = f"{suite}/{idx}"
        if obj["id"] != expected:
            rep.err(f"{where}: id {obj['id']!r}, expected {expected!r} (ids must be consecutive from 0)")
        if obj["id"] in seen_ids:
            rep.err(f"{where}: duplicate id {obj['id']!r}")
        seen_ids.add(obj["id"])

        # duplicates
        key = norm(obj[cfg["dedup_field"]])
        if key in seen_text:
            rep.err(f"{where}: duplicate {cfg['dedup_field']} (same as line {seen_text[key]}): {obj[cfg['dedup_field']]!r}")
        else:
            seen_text[key] = lineno

        if suite == "qa":
            ctx, answers = obj["context"], obj["answers"]
            ns = count_sentences(ctx)
            if not 2 <= ns <= 5:
                rep.err(f"{where}: context has {ns} sentences, expected 2-5")
            if not answers:
                rep.err(f"{where}: 'answers' is empty")
            seen_ans = set()
            for j, a in enumerate(answers):
                if not isinstance(a, str):
                    rep.err(f"{where}: answers[{j}] is not a string")
                    continue
                rep.check_str(where, f"answers[{j}]", a)
                if a and a not in ctx:
                    rep.err(f"{where}: answers[{j}] {a!r} does not occur verbatim in the context")
                if a in seen_ans:
                    rep.err(f"{where}: answers[{j}] {a!r} is repeated")
                seen_ans.add(a)
                limit = 4 if j == 0 else 8
                if a and n_words(a) > limit:
                    rep.err(f"{where}: answers[{j}] {a!r} has {n_words(a)} words (max {limit})")
            if not obj["question"].endswith("?"):
                rep.err(f"{where}: question does not end with '?'")
        else:
            label, text = obj["label"], obj["text"]
            if label not in cfg["labels"]:
                rep.err(f"{where}: label {label!r} not in {cfg['labels']}")
            label_counts[label] += 1
            lo, hi = cfg["words"]
            if not lo <= n_words(text) <= hi:
                rep.err(f"{where}: text has {n_words(text)} words, expected {lo}-{hi}")
            if cfg.get("sentences"):
                slo, shi = cfg["sentences"]
                ns = count_sentences(text)
                if not slo <= ns <= shi:
                    rep.err(f"{where}: text has {ns} sentences, expected {slo}-{shi}")

    n = len(rows)
    if n < cfg["min_items"]:
        rep.err(f"only {n} items, need at least {cfg['min_items']}")
    if cfg["labels"]:
        for l in cfg["labels"]:
            if label_counts[l] < cfg["min_per_label"]:
                rep.err(f"label {l!r} has {label_counts[l]} items, need at least {cfg['min_per_label']}")
        if len(set(label_counts[l] for l in cfg["labels"])) != 1:
            rep.err(f"labels are not balanced: {dict(label_counts)}")
        rep.info.append("labels: " + ", ".join(f"{l}={label_counts[l]}" for l in cfg["labels"]))
    else:
        n_ctx = len({o["context"] for _, o in rows if isinstance(o.get("context"), str)})
        n_alt = sum(1 for _, o in rows if isinstance(o.get("answers"), list) and len(o["answers"]) > 1)
        rep.info.append(f"contexts: {n_ctx} distinct; items with alternate answers: {n_alt}")
    return n


def check_manifest(suite, cfg, suite_dir, n_items, rep):
    path = os.path.join(suite_dir, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        rep.err(f"manifest.json: cannot load: {e}")
        return
    if not isinstance(m, dict):
        rep.err("manifest.json: not a JSON object")
        return
    keys = list(MANIFEST_KEYS)
    if cfg["labels"]:
        keys += ["labels", "choices_template"]
    for k in keys:
        if k not in m:
            rep.err(f"manifest.json: missing key {k!r}")
    if m.get("name") != suite:
        rep.err(f"manifest.json: name {m.get('name')!r} != {suite!r}")
    if not isinstance(m.get("version"), str) or not m.get("version"):
        rep.err("manifest.json: version must be a non-empty string")
    for k in ("description", "license"):
        if k in m and (not isinstance(m[k], str) or not m[k].strip()):
            rep.err(f"manifest.json: {k} must be a non-empty string")
    if m.get("task") != cfg["task"]:
        rep.err(f"manifest.json: task {m.get('task')!r} != {cfg['task']!r}")
    if m.get("data") != "data.jsonl":
        rep.err(f"manifest.json: data {m.get('data')!r} != 'data.jsonl'")
    if m.get("n_items") != n_items:
        rep.err(f"manifest.json: n_items {m.get('n_items')!r} != actual {n_items}")
    if m.get("metrics") != cfg["metrics"]:
        rep.err(f"manifest.json: metrics {m.get('metrics')!r} != {cfg['metrics']!r}")
    if cfg["labels"] and m.get("labels") != cfg["labels"]:
        rep.err(f"manifest.json: labels {m.get('labels')!r} != {cfg['labels']!r}")
    tmpl = m.get("prompt_template")
    if not isinstance(tmpl, str) or not tmpl:
        rep.err("manifest.json: prompt_template must be a non-empty string")
    else:
        used = PLACEHOLDER.findall(tmpl)
        allowed = set(cfg["fields"]) - {"id", "answers", "label"}
        if not used:
            rep.err("manifest.json: prompt_template has no {field} placeholders")
        for p in used:
            if p not in allowed:
                rep.err(f"manifest.json: prompt_template placeholder {{{p}}} is not an input field {sorted(allowed)}")
    if cfg["labels"]:
        ct = m.get("choices_template")
        if not isinstance(ct, str) or PLACEHOLDER.findall(ct) != ["label"]:
            rep.err("manifest.json: choices_template must contain exactly one {label} placeholder")
    sha = m.get("sha256")
    if not isinstance(sha, str):
        rep.err("manifest.json: sha256 must be a string")
    elif sha:
        with open(os.path.join(suite_dir, "data.jsonl"), "rb") as f:
            actual = hashlib.sha256(f.read()).hexdigest()
        if sha != actual:
            rep.err(f"manifest.json: sha256 {sha} != actual {actual}")
        else:
            rep.info.append("sha256 matches")
    else:
        rep.info.append("sha256 not yet set (empty)")


def check_suite(root, suite):
    cfg = SUITES[suite]
    rep = Report(suite)
    suite_dir = os.path.join(root, suite)
    rows = load_jsonl(os.path.join(suite_dir, "data.jsonl"), rep)
    n = check_items(suite, cfg, rows, rep)
    check_manifest(suite, cfg, suite_dir, n, rep)
    readme = os.path.join(suite_dir, "README.md")
    if not os.path.isfile(readme) or os.path.getsize(readme) == 0:
        rep.err("README.md missing or empty")
    return rep, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.abspath(__file__)),
                    help="datasets directory (default: the directory of this script)")
    ap.add_argument("--max-errors", type=int, default=20, help="errors printed per suite")
    ap.add_argument("suites", nargs="*", default=list(SUITES), help="suites to check")
    args = ap.parse_args()
    failed = False
    for suite in args.suites:
        if suite not in SUITES:
            print(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
            failed = True
            continue
        rep, n = check_suite(args.root, suite)
        status = "OK" if not rep.errors else f"FAIL ({len(rep.errors)} errors)"
        print(f"[{suite}] {status}: {n} items (min {SUITES[suite]['min_items']})")
        for line in rep.info:
            print(f"  {line}")
        for e in rep.errors[:args.max_errors]:
            print(f"  ERROR {e}")
        if len(rep.errors) > args.max_errors:
            print(f"  ... {len(rep.errors) - args.max_errors} more errors")
        failed = failed or bool(rep.errors)
    print("FAILED" if failed else "ALL SUITES PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
