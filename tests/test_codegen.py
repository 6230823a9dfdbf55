"""The exported schema as a TypeScript team uses it: `shutter schema`, then graphql-codegen's
TypeScript plugins over a client's operations, then tsc --strict over the generated types and
code written with them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.graphiql import PACKAGES
from config.settings import PROJECT_ROOT

HERE = PROJECT_ROOT / "tests" / "codegen"
BIN = PACKAGES / ".bin"


def test_the_exported_schema_compiles_into_strict_typescript(tmp_path: Path) -> None:
    if not (BIN / "graphql-codegen").exists() or shutil.which("node") is None:
        if not os.environ.get("CI"):
            pytest.skip("the codegen tools are not installed (make install)")
        raise AssertionError("CI installs them: make install runs npm ci in config/graphiql")
    # given: the schema as `shutter schema` prints it, and a client's operations
    exported = subprocess.run(
        [sys.executable, "-m", "config.cli", "schema"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "schema.graphql").write_text(exported.stdout)
    shutil.copy(HERE / "operations.graphql", tmp_path)
    shutil.copy(HERE / "check.ts", tmp_path)
    config = {
        "schema": str(tmp_path / "schema.graphql"),
        "documents": str(tmp_path / "operations.graphql"),
        "generates": {
            str(tmp_path / "generated.ts"): {
                "plugins": ["typescript", "typescript-operations"],
                "config": {
                    "strictScalars": True,
                    "scalars": {"DateTime": "string", "Upload": "File"},
                },
            }
        },
    }
    (tmp_path / "codegen.json").write_text(json.dumps(config))

    # when: codegen types them (run where its plugins are installed) and tsc checks the result
    generated = subprocess.run(  # noqa: S603 - the installed codegen
        [str(BIN / "graphql-codegen"), "--config", str(tmp_path / "codegen.json")],
        cwd=PACKAGES.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    checked = subprocess.run(  # noqa: S603 - the installed tsc
        [
            str(BIN / "tsc"),
            "--strict",
            "--noEmit",
            "--target",
            "es2020",
            "--moduleResolution",
            "node",
            str(tmp_path / "generated.ts"),
            str(tmp_path / "check.ts"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    # then: both succeed
    assert checked.returncode == 0, checked.stdout + checked.stderr
