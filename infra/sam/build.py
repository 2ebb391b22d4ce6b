#!/usr/bin/env python3
"""The release build of one Lambda function, as `sam build` runs it (through the Makefile here).

    python3 infra/sam/build.py <LogicalId> <functions/<crate> directory> <artifacts dir>

Builds every function in one workspace build (`cargo lambda build --release --arm64` with every
functions/* package), into target/lambda-sam/, then copies the crate's binary to
<artifacts dir>/bootstrap. The workspace build runs once per set of build inputs: it is stamped
with a digest of what SAM hashes (this directory, symlinks followed) and of the Rust toolchain,
so with `parallel = true` the first function's build compiles everything (both cores busy with
the LTO links) and the others only copy their binary. Builds run one at a time (a lock in the
target directory): cargo locks its compile, but cargo lambda then moves the binaries out of
target/, and two doing that at once would race.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def package(directory: Path) -> str:
    return tomllib.loads((directory / "Cargo.toml").read_text(encoding="utf-8"))["package"]["name"]


def inputs_digest(command: list[str]) -> str:
    """What the workspace build depends on: the files SAM hashes for its cache, the command, the toolchain."""
    digest = hashlib.sha256("\0".join(command).encode())
    digest.update(subprocess.run(["rustc", "-vV"], cwd=ROOT, capture_output=True, check=True).stdout)
    files = []
    for dirpath, dirnames, filenames in os.walk(HERE, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != ".aws-sam"]
        files += [Path(dirpath, f) for f in filenames if f != ".aws-sam"]
    for path in sorted(files):
        digest.update(str(path.relative_to(HERE)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    logical_id, function_dir, artifacts = argv[1], Path(argv[2]).resolve(), Path(argv[3])
    if function_dir.parent != ROOT / "functions" or not (function_dir / "Cargo.toml").is_file():
        print(f"sam build: {logical_id} is built in {function_dir}; give it Metadata WorkingDirectory: "
              'functions/<crate> (docs/design.md, "Building and deploying")', file=sys.stderr)
        return 1
    target = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
    out = target / "lambda-sam"
    packages = [package(d) for d in sorted((ROOT / "functions").iterdir()) if (d / "Cargo.toml").is_file()]
    command = ["cargo", "lambda", "build", "--release", "--arm64", *(f"--package={p}" for p in packages),
               f"--lambda-dir={out}"]
    digest = inputs_digest(command)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".gatehouse-release.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / ".inputs"
        if not (stamp.is_file() and stamp.read_text() == digest):
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run(command, cwd=ROOT, check=True, stdout=sys.stderr)
            stamp.write_text(digest)
        artifacts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / package(function_dir) / "bootstrap", artifacts / "bootstrap")
        (artifacts / "bootstrap").chmod(0o755)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except subprocess.CalledProcessError as e:
        print(f"sam build: {' '.join(map(str, e.cmd))} failed ({e.returncode})", file=sys.stderr)
        sys.exit(1)
