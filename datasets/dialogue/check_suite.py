#!/usr/bin/env python3
"""Validate the bundled `dialogue` dataset (next-response selection).

Usage: python3 check_suite.py [DATASET_DIR]

DATASET_DIR defaults to the directory containing this script. Uses only the
Python standard library. Prints a summary and exits non-zero if any check
fails.

Checks:
  * data.jsonl is valid JSONL (one JSON object per non-empty line)
  * every item has exactly the fields id/turns/gold/distractors/distractor_types
    with the right types and non-empty strings; one type per distractor, each
    contradiction, off_topic, generic or repetition
  * ids are unique and consecutive: dialogue/0 .. dialogue/N-1, in order
  * 2-6 context turns, speakers in {A, B} and strictly alternating
  * >= 3 distractors per item, no duplicate distractors within an item
  * gold differs from every distractor (case/whitespace-insensitive)
  * no gold is duplicated across items
  * len(gold) / mean(len(distractor)) lies in [0.5, 2] for >= 90% of items
  * manifest.json (if present) agrees with the data: n_items, data file,
    task name, and sha256 when it is non-empty
"""
import hashlib
import json
import os
import sys

MIN_TURNS, MAX_TURNS = 2, 6
MIN_DISTRACTORS = 3
RATIO_LO, RATIO_HI = 0.5, 2.0
RATIO_MIN_FRACTION = 0.90
REQUIRED_FIELDS = {"id": str, "turns": list, "gold": str, "distractors": list, "distractor_types": list}
DISTRACTOR_TYPES = ("contradiction", "off_topic", "generic", "repetition")
SPEAKERS = ("A", "B")


def norm(s):
    return " ".join(s.split()).lower()


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    errors = []

    def err(msg):
        errors.append(msg)

    manifest = None
    manifest_path = os.path.join(root, "manifest.json")
    data_name = "data.jsonl"
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
            data_name = manifest.get("data", data_name)
        except (OSError, ValueError) as e:
            err("manifest.json: cannot parse: %s" % e)
    data_path = os.path.join(root, data_name)

    try:
        with open(data_path, "rb") as f:
            raw = f.read()
    except OSError as e:
        print("FAIL: cannot read %s: %s" % (data_path, e))
        return 1

    items = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print("FAIL: %s is not valid UTF-8: %s" % (data_path, e))
        return 1
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            err("line %d: invalid JSON: %s" % (lineno, e))
            continue
        if not isinstance(obj, dict):
            err("line %d: not a JSON object" % lineno)
            continue
        items.append((lineno, obj))

    golds = {}
    ratio_ok = 0
    ratio_n = 0
    turn_hist = {}
    n_distractors = 0
    seen_ids = set()

    for idx, (lineno, obj) in enumerate(items):
        where = "line %d" % lineno
        ok = True
        keys = set(obj)
        missing = set(REQUIRED_FIELDS) - keys
        extra = keys - set(REQUIRED_FIELDS)
        if missing:
            err("%s: missing fields %s" % (where, sorted(missing)))
            ok = False
        if extra:
            err("%s: unexpected fields %s" % (where, sorted(extra)))
        for k, t in REQUIRED_FIELDS.items():
            if k in obj and not isinstance(obj[k], t):
                err("%s: field %r should be %s" % (where, k, t.__name__))
                ok = False
        if not ok:
            continue

        iid = obj["id"]
        where = "line %d (%s)" % (lineno, iid)
        dtypes = obj["distractor_types"]
        if len(dtypes) != len(obj["distractors"]) or any(t not in DISTRACTOR_TYPES for t in dtypes):
            err("%s: distractor_types must give one of %s per distractor" % (where, ", ".join(DISTRACTOR_TYPES)))
        if iid in seen_ids:
            err("%s: duplicate id" % where)
        seen_ids.add(iid)
        if iid != "dialogue/%d" % idx:
            err("%s: expected id dialogue/%d (ids must be consecutive)" % (where, idx))

        turns = obj["turns"]
        if not (MIN_TURNS <= len(turns) <= MAX_TURNS):
            err("%s: %d turns, expected %d-%d" % (where, len(turns), MIN_TURNS, MAX_TURNS))
        turn_hist[len(turns)] = turn_hist.get(len(turns), 0) + 1
        prev = None
        for ti, t in enumerate(turns):
            if not isinstance(t, dict) or set(t) != {"speaker", "text"}:
                err("%s: turn %d must be an object with exactly speaker/text" % (where, ti))
                prev = None
                continue
            sp, tx = t["speaker"], t["text"]
            if sp not in SPEAKERS:
                err("%s: turn %d speaker %r not in %s" % (where, ti, sp, SPEAKERS))
            if not isinstance(tx, str) or not tx.strip():
                err("%s: turn %d text empty or not a string" % (where, ti))
            if prev is not None and sp == prev:
                err("%s: turn %d speaker %r does not alternate" % (where, ti, sp))
            prev = sp

        gold = obj["gold"]
        ds = obj["distractors"]
        if not gold.strip():
            err("%s: empty gold" % where)
        if len(ds) < MIN_DISTRACTORS:
            err("%s: %d distractors, need >= %d" % (where, len(ds), MIN_DISTRACTORS))
        if not all(isinstance(d, str) and d.strip() for d in ds):
            err("%s: distractors must be non-empty strings" % where)
            continue
        n_distractors += len(ds)
        nds = [norm(d) for d in ds]
        if len(set(nds)) != len(nds):
            err("%s: duplicate distractors within item" % where)
        if norm(gold) in nds:
            err("%s: gold equals a distractor" % where)
        g = norm(gold)
        if g in golds:
            err("%s: gold duplicated from %s" % (where, golds[g]))
        else:
            golds[g] = iid

        if ds:
            mean_d = sum(len(d) for d in ds) / len(ds)
            ratio = len(gold) / mean_d if mean_d else float("inf")
            ratio_n += 1
            if RATIO_LO <= ratio <= RATIO_HI:
                ratio_ok += 1

    n = len(items)
    if n == 0:
        err("no items found")
    frac = ratio_ok / ratio_n if ratio_n else 0.0
    if frac < RATIO_MIN_FRACTION:
        err("length ratio within [%.1f, %.1f] for only %.1f%% of items (need >= %.0f%%)"
            % (RATIO_LO, RATIO_HI, 100 * frac, 100 * RATIO_MIN_FRACTION))

    if manifest is not None:
        if manifest.get("n_items") != n:
            err("manifest n_items=%r but data has %d items" % (manifest.get("n_items"), n))
        if manifest.get("task") != "dialogue":
            err("manifest task=%r, expected 'dialogue'" % manifest.get("task"))
        digest = hashlib.sha256(raw).hexdigest()
        want = manifest.get("sha256", "")
        if want and want != digest:
            err("manifest sha256 %s does not match data (%s)" % (want, digest))

    print("dialogue dataset check: %s" % data_path)
    print("  items:              %d" % n)
    print("  distractors:        %d (min per item %d)" % (
        n_distractors, min((len(o.get("distractors", [])) for _, o in items), default=0)))
    print("  turns per context:  %s" % ", ".join("%d:%d" % kv for kv in sorted(turn_hist.items())))
    print("  unique golds:       %d" % len(golds))
    print("  length ratio ok:    %d/%d (%.1f%%)" % (ratio_ok, ratio_n, 100 * frac))
    print("  manifest:           %s" % ("checked" if manifest is not None else "not found"))
    if errors:
        print("FAIL: %d problem(s)" % len(errors))
        for e in errors[:50]:
            print("  - " + e)
        if len(errors) > 50:
            print("  ... %d more" % (len(errors) - 50))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
