"""Install the project's dependencies (and extras) from pyproject.toml without its source.

The image runs this before the source is copied, so the dependency layer is rebuilt only when
pyproject.toml changes. CI runs the same script with --dry-run in a fresh virtualenv, so the image's
install step is exercised without a container engine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"install_deps: unknown extras {unknown}; pyproject.toml has {sorted(optional)}")
    return [*project["dependencies"], *(req for extra in extras for req in optional[extra])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pyproject", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml")
    parser.add_argument("--extra", action="append", default=[], help="an optional-dependencies group")
    parser.add_argument("--dry-run", action="store_true", help="resolve only (pip install --dry-run)")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pip", "install", "--no-cache-dir"]
    if args.dry_run:
        command += ["--dry-run", "--quiet"]
    return subprocess.call([*command, *requirements(args.pyproject, args.extra)])


if __name__ == "__main__":
    sys.exit(main())
