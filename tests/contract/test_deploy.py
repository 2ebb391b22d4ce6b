"""Contract checks for how `sam build` builds the functions (docs/design.md, "Building and deploying").

Every Rust function of template.yaml is built the same way (Metadata BuildMethod:
provided.al2023 and WorkingDirectory: functions/<crate>, CodeUri: infra/sam); what SAM hashes
for its cache (CodeUri, symlinks followed) holds only build inputs, never a build or state
folder; and infra/check_sam_build.py, which infra/test.sh runs on what SAM built, fails a zip
over the budget and two functions deploying the same binary; and the README says what to answer
for every parameter `sam deploy --guided` asks.

Run from the workspace root:  python3 -m unittest tests/contract/test_deploy.py
Needs the standard library, PyYAML and git.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from infra import check_sam_build  # noqa: E402
from infra.cfn import load_template  # noqa: E402
import yaml  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
CODE_URI = "infra/sam"
BUILD_METHOD = "provided.al2023"


def rust_functions(template: dict) -> dict:
    """Logical id -> resource, for every function built from the workspace (not inline code)."""
    runtime = ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and "InlineCode" not in (resource.get("Properties") or {})
        and str((resource.get("Properties") or {}).get("Runtime", runtime)).startswith("provided")
    }


def hashed_files(code_uri: Path) -> list[Path]:
    """The files SAM's cache hash reads: samcli.lib.utils.hash.dir_checksum walks CodeUri
    following symlinks and skips only names equal to `.aws-sam`."""
    found = []
    for dirpath, dirnames, filenames in os.walk(code_uri, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != ".aws-sam"]
        found += [Path(dirpath, f) for f in filenames if f != ".aws-sam"]
    return found


class TemplateBuild(unittest.TestCase):
    def setUp(self):
        self.functions = rust_functions(load_template(TEMPLATE))

    def test_every_rust_function_is_built_from_infra_sam_in_its_crate_directory(self):
        self.assertGreater(len(self.functions), 0)
        for logical_id, resource in self.functions.items():
            with self.subTest(logical_id):
                metadata = resource.get("Metadata") or {}
                self.assertEqual(resource["Properties"].get("CodeUri"), CODE_URI)
                self.assertEqual(set(metadata), {"BuildMethod", "WorkingDirectory"})
                self.assertEqual(metadata["BuildMethod"], BUILD_METHOD, "makefile would never reuse SAM's cache")
                crate = metadata["WorkingDirectory"].removeprefix("functions/")
                manifest = ROOT / "functions" / crate / "Cargo.toml"
                self.assertTrue(manifest.is_file(), f"{logical_id}: no {manifest}")
                package = tomllib.loads(manifest.read_text(encoding="utf-8"))["package"]["name"]
                self.assertEqual(package, crate, "the crate's directory and package are named alike")

    def test_no_two_functions_deploy_the_same_crate(self):
        dirs = [r["Metadata"].get("WorkingDirectory") for r in self.functions.values()]
        self.assertEqual(len(dirs), len(set(dirs)), dirs)


class WhatSamHashes(unittest.TestCase):
    def setUp(self):
        if shutil.which("git") is None or not (ROOT / ".git").exists():
            self.skipTest("needs a git checkout")
        code_uris = {r["Properties"].get("CodeUri") for r in rust_functions(load_template(TEMPLATE)).values()}
        self.files = {p.resolve().relative_to(ROOT) for uri in code_uris for p in hashed_files(ROOT / str(uri))}

    def test_it_covers_the_manifest_the_lock_file_shared_the_patched_crates_and_every_function(self):
        tracked = subprocess.run(["git", "ls-files", "Cargo.toml", "Cargo.lock", "shared", "functions", "vendor"],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        self.assertGreater(len(tracked), 2)
        self.assertEqual(set(map(Path, tracked)) - set(self.files), set())

    def test_it_holds_no_build_or_state_folder(self):
        state = {"target", ".gatehouse", ".aws-sam", "__pycache__", ".venv", "node_modules", ".schemathesis"}
        self.assertEqual(sorted(f for f in self.files if state & set(f.parts))[:5], [])
        ignored = subprocess.run(["git", "check-ignore", "--stdin"], cwd=ROOT, capture_output=True, text=True,
                                 input="\n".join(map(str, sorted(self.files)))).stdout.split()
        self.assertEqual(ignored[:5], [], "git-ignored files are build or state output")


class DeployGuide(unittest.TestCase):
    def test_the_readme_tells_what_to_answer_for_every_template_parameter(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        section = readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
        parameters = load_template(TEMPLATE).get("Parameters") or {}
        self.assertGreater(len(parameters), 0)
        missing = [name for name in parameters if f"| Parameter {name} " not in section]
        self.assertEqual(missing, [], "each needs a row in README.md, Deploying (what sam deploy --guided asks)")


class CheckSamBuild(unittest.TestCase):
    """infra/check_sam_build.py against a made-up `.aws-sam/build`."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)

    def build(self, binaries: dict) -> Path:
        resources = {}
        for crate, data in binaries.items():
            logical_id = crate.title().replace("-", "") + "Function"
            (self.dir / logical_id).mkdir()
            (self.dir / logical_id / "bootstrap").write_bytes(data)
            (self.dir / logical_id / "bootstrap").chmod(0o755)
            resources[logical_id] = {"Type": "AWS::Serverless::Function",
                                     "Metadata": {"BuildMethod": BUILD_METHOD, "WorkingDirectory": f"functions/{crate}"},
                                     "Properties": {"CodeUri": logical_id}}
        (self.dir / "template.yaml").write_text(yaml.safe_dump({"Resources": resources}), encoding="utf-8")
        return self.dir

    def run_check(self, build_dir: Path) -> int:
        with mock.patch("sys.stdout"), mock.patch("sys.stderr"):
            return check_sam_build.main(["check_sam_build.py", str(build_dir)])

    def test_distinct_binaries_within_the_budget_pass(self):
        self.assertEqual(self.run_check(self.build({"portals": b"a" * 1000, "password-reset": os.urandom(1000)})), 0)

    def test_a_zip_over_the_budget_fails(self):
        build = self.build({"portals": os.urandom(5000)})
        self.assertEqual(self.run_check(build), 0)
        with mock.patch.object(check_sam_build, "ZIP_BUDGET_BYTES", 4000):
            self.assertEqual(self.run_check(build), 1)

    def test_two_functions_with_the_same_bootstrap_fail(self):
        self.assertEqual(self.run_check(self.build({"portals": b"same", "teams": b"same"})), 1)

    def test_a_function_without_an_executable_bootstrap_fails(self):
        build = self.build({"portals": b"x"})
        (build / "PortalsFunction" / "bootstrap").chmod(0o644)
        self.assertEqual(self.run_check(build), 1)

    def test_no_build_is_an_error_not_a_pass(self):
        self.assertEqual(self.run_check(self.dir), 2)

    def test_the_built_template_maps_each_crate_to_its_directory(self):
        built = check_sam_build.built_functions(self.build({"password-reset": b"x"}))
        self.assertEqual(built, {"password-reset": ("PasswordResetFunction", self.dir / "PasswordResetFunction")})


if __name__ == "__main__":
    unittest.main()
