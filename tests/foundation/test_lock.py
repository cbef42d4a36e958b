"""The lock files (`make lock`) cover pyproject.toml: every requirement of
[project.dependencies] and of the `dev` extra is pinned, at a version its specifier allows, with
hashes. pip in hash-checking mode (`--require-hashes`, the Makefile and deploy/Dockerfile) then
refuses anything unpinned, so the rest of the tree is checked at every install."""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
DEV_LOCK = ROOT / "requirements" / "dev-lock.txt"
ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]+))?"
)
# The environment the locks are installed in: CPython 3.11 on Linux (.venv, CI, the image).
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_python_implementation": "CPython",
}


@dataclass
class Pin:
    version: str
    marker: str | None
    hashes: int

    def applies(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(TARGET)


def read_lock(path: Path) -> dict[str, list[Pin]]:
    pins: dict[str, list[Pin]] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        match = ENTRY.match(line)
        if match:
            marker = match["marker"].strip() if match["marker"] else None
            current = Pin(match["version"], marker, 0)
            pins.setdefault(canonicalize_name(match["name"]), []).append(current)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            current.hashes += 1
        elif line.strip() and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: a line that is neither a pin nor a hash: {line!r}")
    return pins


def project_requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


def assert_covers(lock: dict[str, list[Pin]], requirements: list[Requirement], name: str):
    problems = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        pins = [pin for pin in lock.get(canonicalize_name(req.name), []) if pin.applies()]
        if not pins:
            problems.append(f"{req.name} is not pinned")
            continue
        for pin in pins:
            if not req.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{req.name}=={pin.version} does not satisfy {req}")
    assert not problems, f"{name} is out of date with pyproject.toml (run `make lock`): " + (
        "; ".join(problems)
    )


def test_every_pin_has_hashes():
    for path in (LOCK, DEV_LOCK):
        lock = read_lock(path)
        assert len(lock) > 20, path
        unhashed = [name for name, pins in lock.items() if any(p.hashes == 0 for p in pins)]
        assert unhashed == [], f"{path.name}: pinned without a hash: {unhashed}"


def test_dev_lock_covers_the_dependencies_and_the_dev_extra():
    assert_covers(read_lock(DEV_LOCK), project_requirements("dev"), DEV_LOCK.name)


def test_production_lock_covers_the_dependencies_at_the_dev_locks_versions():
    lock, dev_lock = read_lock(LOCK), read_lock(DEV_LOCK)
    assert_covers(lock, project_requirements(), LOCK.name)
    differ = {
        name: ([p.version for p in pins], [p.version for p in dev_lock.get(name, [])])
        for name, pins in lock.items()
        if {p.version for p in pins} - {p.version for p in dev_lock.get(name, [])}
    }
    assert differ == {}, "production and dev locks pin different versions (run `make lock`)"
    # The dev-only tools stay out of the image.
    dev_only = {canonicalize_name(r.name) for r in project_requirements("dev")} - {
        canonicalize_name(r.name) for r in project_requirements()
    }
    assert {"pytest", "ruff", "uv"} <= dev_only
    assert not {"pytest", "ruff", "uv"} & lock.keys()


def test_installs_go_through_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "install --require-hashes -r $(DEV_LOCK)" in makefile
    assert "install --no-deps --no-build-isolation -e ." in makefile
    assert re.search(r"^\$\(STAMP\): .*\$\(DEV_LOCK\)", makefile, re.M)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/lock.txt" in dockerfile
