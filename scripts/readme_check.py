#!/usr/bin/env python3
"""Reruns the `$ dfsim ...` examples in README.md and reports those whose output changed.

Every fenced block whose lines start with `$ dfsim` (a trailing backslash continues a command)
is split into commands and the output printed below each. Each command runs from the repository
root with ./build/dfsim (SYSTEMC_DISABLE_COPYRIGHT_MESSAGE set); stdout and stderr together are
compared with the README's lines. Prints a unified diff per changed example and a summary;
exit code 1 when any differs. `--skip REGEX` leaves out commands that match (long sweeps),
`--only REGEX` runs only those that match. Absolute paths of this checkout in the output are
shown relative to it, as README writes them.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def examples(text):
    """(line number, index of its first output line, command, expected output lines) for every
    `$ dfsim` command."""
    lines = text.split("\n")
    inside = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            inside = not inside
            i += 1
            continue
        if inside and line.startswith("$ dfsim"):
            start = i + 1
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            expected = []
            i += 1
            first_output = i
            while i < len(lines) and not lines[i].startswith("```") and not lines[i].startswith("$ "):
                expected.append(lines[i])
                i += 1
            yield start, first_output, command, expected
            continue
        i += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    parser.add_argument("--skip", help="regex of commands not to run")
    parser.add_argument("--only", help="regex of the only commands to run")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    changed = ran = 0
    with open(args.readme, encoding="utf-8") as f:
        text = f.read()
    for line, _, command, expected in examples(text):
        if args.skip and re.search(args.skip, command):
            continue
        if args.only and not re.search(args.only, command):
            continue
        ran += 1
        shell = "./build/" + command
        try:
            done = subprocess.run(shell, shell=True, cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=args.timeout)
            output = (done.stdout + done.stderr).replace(ROOT + "/", "")
        except subprocess.TimeoutExpired:
            output = f"(timed out after {args.timeout:g} s)"
        got = output.rstrip("\n").split("\n") if output.strip() else []
        want = [l for l in expected]
        while want and not want[-1].strip():
            want.pop()
        if got != want:
            changed += 1
            print(f"README.md:{line}: $ {command}")
            sys.stdout.writelines(
                l + "\n" for l in difflib.unified_diff(want, got, "README", "now", lineterm=""))
    print(f"{ran} examples run, {changed} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
