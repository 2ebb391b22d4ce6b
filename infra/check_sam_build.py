#!/usr/bin/env python3
"""Checks what `sam build` built, as `sam deploy` would upload it.

    python3 infra/check_sam_build.py [.aws-sam/build]

For every Rust function of the built template (Metadata WorkingDirectory: functions/<crate>):
its directory holds an executable `bootstrap`, no two functions hold the same binary, and the
directory zipped as `sam package` / `sam deploy` zips it (every file, deflate at the default
level) is within ZIP_BUDGET_BYTES. Prints one line per function; exits 1 if a check fails, 2 if
there is no build. infra/test.sh runs it after `sam build`; infra/bench/bench.py reports the
same sizes against the same budget.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from infra.cfn import function_crate, load_template  # noqa: E402

# The one number: the largest zip a function may deploy, in bytes.
ZIP_BUDGET_BYTES = 4 * 1024 * 1024


def built_functions(build_dir: Path) -> dict[str, tuple[str, Path]]:
    """crate -> (logical id, directory SAM built for it), from the built template."""
    built = {}
    for logical_id, resource in (load_template(build_dir / "template.yaml").get("Resources") or {}).items():
        working_dir = str((resource.get("Metadata") or {}).get("WorkingDirectory") or "")
        if resource.get("Type") == "AWS::Serverless::Function" and working_dir.startswith("functions/"):
            built[function_crate(logical_id, resource)] = (logical_id, build_dir / resource["Properties"]["CodeUri"])
    return built


def zip_size(directory: Path) -> tuple[int, int]:
    """(zipped, unzipped) bytes of `directory` zipped as SAM zips a function's code."""
    buf = io.BytesIO()
    raw = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _, files in os.walk(directory, followlinks=True):
            for name in sorted(files):
                path = Path(root, name)
                data = path.read_bytes()
                raw += len(data)
                zf.writestr(zipfile.ZipInfo(str(path.relative_to(directory))), data, zipfile.ZIP_DEFLATED)
    return len(buf.getvalue()), raw


def check_function(directory: Path) -> tuple[str, int, int] | None:
    """(sha256 of the bootstrap, zipped bytes, unzipped bytes), or None without an executable bootstrap."""
    bootstrap = directory / "bootstrap"
    if not (bootstrap.is_file() and os.access(bootstrap, os.X_OK)):
        return None
    return (hashlib.sha256(bootstrap.read_bytes()).hexdigest(), *zip_size(directory))


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1] if len(argv) > 1 else ".aws-sam/build")
    if not (build_dir / "template.yaml").is_file():
        print(f"check_sam_build: no {build_dir / 'template.yaml'} (run sam build first)", file=sys.stderr)
        return 2
    built = built_functions(build_dir)
    if not built:
        print(f"check_sam_build: no Rust function in {build_dir / 'template.yaml'}", file=sys.stderr)
        return 2
    # Zipping is most of the check's time; zlib and sha256 release the GIL, so one thread per core.
    functions = sorted(built.items())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(check_function, [directory for _, (_, directory) in functions]))
    failures, binaries = [], {}
    for (crate, (logical_id, directory)), result in zip(functions, results):
        if result is None:
            failures.append(f"{logical_id}: no executable bootstrap in {directory}")
            continue
        digest, size, raw = result
        if digest in binaries:
            failures.append(f"{logical_id}: the same bootstrap as {binaries[digest]}")
        binaries[digest] = logical_id
        if size > ZIP_BUDGET_BYTES:
            failures.append(f"{logical_id}: {size} bytes zipped, over the budget of {ZIP_BUDGET_BYTES}")
        print(f"{crate} ({logical_id}): {size} bytes zipped, {raw} unzipped (budget {ZIP_BUDGET_BYTES})")
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
