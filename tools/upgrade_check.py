"""Would the newest allowed versions break codeladder? Find out in a scratch venv, before users do.

``constraints.txt`` pins what CI tested; the README's install uses it. This script installs the newest versions
``pyproject.toml`` allows (no constraints, no pip cache) into a fresh venv, lists every package whose version
differs from ``constraints.txt``, runs the tests there (all, or the paths given) and lists the ones that fail.
An upgrade is then a decision: bump the bounds or the pins, or leave them.

Usage: ``python tools/upgrade_check.py [--venv DIR] [--tests tests/transforms/finetune ...] [--keep]``
(a full run: about 8 minutes of install and the suite's time on 2 cores). Exit 0: nothing broke.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_AMX = subprocess.run([str(ROOT / "tools" / "llama-cmake-args")], capture_output=True, text=True,
                        check=True).stdout.strip()  # as the README's install


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, env=env, cwd=ROOT, **kwargs)


def failures(junit: Path) -> list[str]:
    if not junit.is_file():
        return ["(no test report: pytest did not run to its end)"]
    failed = []
    for case in ElementTree.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(f"{case.get('classname')}::{case.get('name')}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/ladder-upgrade-check"))
    parser.add_argument("--tests", nargs="*", default=[], help="test paths (default: the whole suite)")
    parser.add_argument("--keep", action="store_true", help="keep the venv afterwards")
    args = parser.parse_args()
    shutil.rmtree(args.venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
    python = str(args.venv / "bin" / "python")
    env = {**os.environ, "CMAKE_ARGS": NO_AMX, "PIP_NO_CACHE_DIR": "1", "CODELADDER_CACHE": str(args.venv / "cache"),
           "VIRTUAL_ENV": str(args.venv), "PATH": f"{args.venv / 'bin'}:{os.environ['PATH']}"}
    if run([python, "-m", "pip", "install", "-q", "-e", ".[all,test]"], env).returncode != 0:
        print("the newest allowed versions do not even install together: see pip's message above")
        return 1
    frozen = pins(subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True).stdout)
    tested = pins((ROOT / "constraints.txt").read_text())
    changed = sorted((name, tested.get(name, "-"), version) for name, version in frozen.items()
                     if name != "codeladder" and tested.get(name) != version)
    junit = args.venv / "junit.xml"
    run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *args.tests], env)
    broken = failures(junit)
    print(f"\n{len(changed)} package(s) differ from constraints.txt:")
    for name, old, new in changed:
        print(f"  {name}: {old} -> {new}")
    print(f"\n{len(broken)} test(s) fail on them:" if broken else "\nno test fails on them")
    for name in broken:
        print(f"  {name}")
    if not args.keep:
        shutil.rmtree(args.venv, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
