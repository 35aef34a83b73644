#!/usr/bin/env python3
"""Measure the component's stack use on an ESP-IDF target and enforce a budget.

Every source of the component is compiled as idf_compile_check.py does (real
ESP-IDF headers, ESP-IDF's default flags, the target's arch flags), with
-fstack-usage and -fcallgraph-info=su. From GCC's call graph (.ci files) the
check computes

  - each function's frame, failing when one is over FRAME_BUDGET or not
    static (VLA, alloca: "dynamic");
  - the deepest path through the component's own functions, failing when it
    is over PATH_BUDGET or when the component recurses.

Calls that leave the component are leaves of zero cost here: calls through
a function pointer (the port table, the status callback) and calls into
ESP-IDF, Mbed TLS, cJSON and the C library. What they add (esp_http_client
and a TLS handshake above all) comes on top; the README states the task stack.

Both of ESP-IDF's usual optimisation levels are measured (-Og, the default,
and -Os), on the headers of v5.5.5 (tables printed), v5.0.9 and v6.0.2 (one
summary line each); every combination must meet the budget.
"""
import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import idf_compile_check as icc

FRAME_BUDGET = 1024   # bytes: largest frame any one function may have
PATH_BUDGET = 3072    # bytes: deepest call path through the component's functions
TOP_FRAMES = 10

NODE_RE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE_RE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
FRAME_RE = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


def read_callgraph(ci_files):
    """({name: (bytes, qualifier, file)}, {name: set(callees)}) of defined functions."""
    frames, calls = {}, {}
    for ci in ci_files:
        src = ci.stem.replace("__", "/") + ".c"
        local = {}
        text = ci.read_text()
        for title, label in NODE_RE.findall(text):
            m = FRAME_RE.search(label)
            if m:                              # defined here (externals have no frame)
                local[title] = (int(m.group(1)), m.group(2), src)
        for title, info in local.items():
            if title in frames:
                raise RuntimeError("%s is defined in %s and %s: give static functions "
                                   "distinct names" % (title, frames[title][2], info[2]))
            frames[title] = info
        for a, b in EDGE_RE.findall(text):
            calls.setdefault(a, set()).add(b)
    return frames, {f: {c for c in cs if c in frames} for f, cs in calls.items()
                    if f in frames}


def short(title):
    """GCC titles static functions "/path/file.c:name"; clones get ".constprop.0"."""
    return title.rsplit(":", 1)[-1].replace("$", ".")


def deepest_paths(frames, calls):
    """{function: (total bytes, [path])} of the deepest chain starting at each."""
    memo, active, recursive = {}, set(), set()

    def walk(f):
        if f in memo:
            return memo[f]
        if f in active:
            recursive.add(f)
            return 0, []
        active.add(f)
        best = (0, [])
        for callee in sorted(calls.get(f, ())):
            best = max(best, walk(callee), key=lambda x: x[0])
        active.discard(f)
        memo[f] = (frames[f][0] + best[0], [f] + best[1])
        return memo[f]

    for f in sorted(frames):
        walk(f)
    return memo, recursive


def measure(args, version, opt, out_dir):
    cc, flags, sources, out, info = icc.compile_plan(
        version, args.target, args.idf_path, opt,
        extra_flags=["-fstack-usage", "-fcallgraph-info=su"],
        out_dir=out_dir / version / opt)
    # measure even when a warning would stop the build: that is the compile
    # check's verdict, not this one's
    flags = [f for f in flags if not f.startswith("-Werror")]
    results = icc.compile_all(cc, flags, sources, out, args.jobs)
    broken = [(str(rel), diag) for rel, rc, diag in results if rc != 0]
    return info, broken, sorted(out.glob("*.ci"))


def violations(frames, memo, recursive):
    problems = []
    for name, (size, kind, src) in sorted(frames.items()):
        if size > FRAME_BUDGET:
            problems.append("frame of %s (%s) is %d bytes > %d"
                            % (short(name), src, size, FRAME_BUDGET))
        if "dynamic" in kind and "bounded" not in kind:
            problems.append("frame of %s (%s) is dynamic (VLA or alloca): unbounded"
                            % (short(name), src))
    for name in sorted(recursive):
        problems.append("%s is recursive: its stack depth is unbounded" % short(name))
    total, path = deepest(memo)
    if total > PATH_BUDGET:
        problems.append("deepest path %s is %d bytes > %d"
                        % (" -> ".join(short(f) for f in path), total, PATH_BUDGET))
    return problems


def deepest(memo):
    return memo[max(memo, key=lambda f: (memo[f][0], f))]


def print_tables(label, frames, memo):
    print("%s: top %d frames (budget %d bytes per function)" % (label, TOP_FRAMES, FRAME_BUDGET))
    print("  %7s  %-9s %-36s %s" % ("bytes", "kind", "function", "file"))
    ranked = sorted(frames.items(), key=lambda kv: (-kv[1][0], kv[0]))
    for name, (size, kind, src) in ranked[:TOP_FRAMES]:
        flag = "  OVER" if size > FRAME_BUDGET else ""
        print("  %7d  %-9s %-36s %s%s" % (size, kind, short(name), src, flag))
    total, path = deepest(memo)
    print("%s: deepest path through the component (budget %d bytes), %d bytes"
          % (label, PATH_BUDGET, total))
    print("  %7s  %7s  %-36s %s" % ("frame", "total", "function", "file"))
    running = 0
    for f in path:
        running += frames[f][0]
        print("  %7d  %7d  %-36s %s" % (frames[f][0], running, short(f), frames[f][2]))
    print("  (calls through function pointers and into ESP-IDF, Mbed TLS, cJSON and libc"
          " are counted as leaves)\n")


def print_summary(label, frames, memo):
    name, (size, _, _) = max(frames.items(), key=lambda kv: (kv[1][0], kv[0]))
    print("%s: largest frame %d bytes (%s), deepest path %d bytes"
          % (label, size, short(name), deepest(memo)[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="esp32c3", choices=sorted(icc.TARGETS))
    ap.add_argument("--idf-version", action="append", choices=sorted(icc.MBEDTLS_FOR_IDF),
                    help="version(s) of the shared headers; tables for the first, a summary "
                         "for the others (default: 5.5.5, 5.0.9, 6.0.2)")
    ap.add_argument("--idf-path", help="a full ESP-IDF checkout instead (e.g. \"$IDF_PATH\")")
    ap.add_argument("--opt", action="append", choices=sorted(icc.IDF_ROOT_FLAGS),
                    help="optimisation level(s) (default: -Og and -Os)")
    ap.add_argument("-j", "--jobs", type=int, default=icc.default_jobs())
    args = ap.parse_args()
    versions = [None] if args.idf_path else args.idf_version or ["5.5.5", "5.0.9", "6.0.2"]

    tmp = Path(tempfile.mkdtemp(prefix="paku-stack-"))
    problems = []
    try:
        for i, version in enumerate(versions):
            for opt in args.opt or ["Og", "Os"]:
                info, broken, ci_files = measure(args, version or "", opt, tmp)
                label = "ESP-IDF v%s %s -%s" % (info["version"], args.target, opt)
                for rel, diag in broken:
                    sys.stdout.write(diag)
                    problems.append("%s: %s does not compile, its stack is not measured"
                                    % (label, rel))
                frames, calls = read_callgraph(ci_files)
                memo, recursive = deepest_paths(frames, calls)
                (print_tables if i == 0 else print_summary)(label, frames, memo)
                problems += ["%s: %s" % (label, p) for p in violations(frames, memo, recursive)]
    except icc.Skip as e:
        print("skipped: %s" % e)
        return icc.SKIP_RC
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        print("\nstack budget exceeded:")
        for p in problems:
            print("  - " + p)
        return 1
    print("\nstack budget met: every frame <= %d bytes, deepest path <= %d bytes"
          % (FRAME_BUDGET, PATH_BUDGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
