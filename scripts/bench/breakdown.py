#!/usr/bin/env python3
"""Where one build's time goes: runs `cargo xtask wheels ... --verbose` for
one build, reads each log line as it comes (the time it arrived), and prints
the phases between the build script's step lines.

usage: scripts/bench/breakdown.py [--runs N] -- WHEELS ARGUMENTS...
       (one build: e.g. --standin --arch aarch64 --py cp313 --no-test)

Phases (each from one line to the next named one):
  start         the command's start to its first step (decision, container)
  sources       copying the sources in, to the build's start
  frontend      the isolated environment made and its packages installed
  get-requires  the backend's get_requires_for_build_wheel hook
  backend       build_wheel, less the compiler's lines
  compile       build_wheel's first compiler line to the line after its last
  repair        auditwheel (its imports overlap the build), to the check
  check         the wheel imported in the target's interpreter
  finish        the wheel copied out, the summary, the container removed

With --runs N the median of each phase over N runs is printed. Lines reach
this script through the engine and the tool, so each boundary is late by
the same small delay: compare phases, not milliseconds.
"""

import statistics
import subprocess
import sys
import time

MARKS = [
    ("sources", "==> copy sources"),
    ("frontend", "==> build wheel with"),
    ("get-requires", "* Getting build dependencies"),
    ("build_wheel", "* Building wheel..."),
    ("repair", "==> repair "),
    ("check", "==> check "),
    ("finish", "==> done"),
]
# The command's first word ends with one of these (aarch64-linux-gnu-gcc).
COMPILERS = ("gcc", "g++", "clang", "clang++", "cc", "c++")


def one_run(args):
    start = time.monotonic()
    seen = {}
    compile_first = compile_end = None
    last_was_compiler = False
    proc = subprocess.Popen(
        ["cargo", "xtask", "wheels", *args, "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    for line in proc.stdout:
        now = time.monotonic() - start
        text = line.split(" | ", 1)[1] if " | " in line else line
        for name, mark in MARKS:
            if name not in seen and text.startswith(mark):
                seen[name] = now
        program = text.split(" ", 1)[0]
        is_compiler = "build_wheel" in seen and "repair" not in seen and program.endswith(COMPILERS)
        if is_compiler:
            compile_first = compile_first if compile_first is not None else now
            last_was_compiler = True
        elif last_was_compiler:
            compile_end = now
            last_was_compiler = False
    if proc.wait() != 0:
        sys.exit(f"the build failed (exit {proc.returncode}): run it without this script to see why")
    end = time.monotonic() - start
    missing = [name for name, _ in MARKS if name not in seen]
    if missing:
        sys.exit(f"no step line for {', '.join(missing)}: is it one build of a CPython, in the cross environment or not?")
    bounds = [("start", 0.0)] + [(n, seen[n]) for n, _ in MARKS] + [("end", end)]
    phases = {}
    for (name, at), (_, until) in zip(bounds, bounds[1:]):
        phases[name] = until - at
    compiled = (compile_end or seen["repair"]) - compile_first if compile_first is not None else 0.0
    phases["compile"] = compiled
    phases["backend"] = phases.pop("build_wheel") - compiled
    phases["total"] = end
    return phases


def main():
    argv = sys.argv[1:]
    runs = 1
    if argv[:1] == ["--runs"]:
        runs, argv = int(argv[1]), argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2:
        sys.exit(__doc__)
    order = ["start", "sources", "frontend", "get-requires", "backend", "compile", "repair", "check", "finish", "total"]
    all_runs = [one_run(argv[1:]) for _ in range(runs)]
    print(" ".join(f"{name}={statistics.median(r[name] for r in all_runs):.2f}" for name in order))


if __name__ == "__main__":
    main()
