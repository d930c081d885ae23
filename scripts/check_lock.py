"""Is the lock in step with pyproject.toml? Offline and in well under a second, so `make install` and
`make test` run it every time.

Every dependency pyproject.toml names (and every one of the ``dev`` extra) must be pinned in the lock with a
version its specifier allows: requirements.txt for the runtime ones, requirements-dev.txt for both. A package
pinned in both files must be pinned to the same version, so production runs what the tests ran, and a pin that
only pyproject.toml pulled in must still be named there. Transitive pins are pip-compile's business (`make
lock`); this only catches a pyproject.toml edited without `make lock`.

Runs on a bare venv before anything is installed: ``packaging`` from pip's own copy when it is not installed.
"""

import re
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a fresh venv: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "requirements.txt"
DEV_LOCK = "requirements-dev.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_pins(path):
    """Package name (canonical) → pinned version, from a pip-compile output file."""
    return {name: version for name, (version, _via) in read_lock(path).items()}


def read_lock(path):
    """Package name (canonical) → (pinned version, what pulled it in: pip-compile's ``# via`` annotations)."""
    pins, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (match[2], set())
        elif current and line.strip().startswith("#"):
            via = line.strip().lstrip("#").strip().removeprefix("via").strip()
            if via:
                pins[current][1].add(via)
    return pins


def stale(requirements, path, lock_name):
    """Pins pulled in by pyproject.toml alone that pyproject.toml no longer names (a dependency was removed)."""
    names = {canonicalize_name(requirement.name) for requirement in requirements}
    return [
        f"{lock_name} still pins {name}, which pyproject.toml no longer names"
        for name, (_version, via) in sorted(read_lock(path).items())
        if via and all("pyproject.toml" in reason for reason in via) and name not in names
    ]


def declared(pyproject):
    """The runtime and the dev requirements pyproject.toml declares."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(text) for text in project.get("dependencies", [])]
    dev = [Requirement(text) for text in project.get("optional-dependencies", {}).get("dev", [])]
    return runtime, dev


def unlocked(requirements, pins, lock_name):
    """A line for each requirement the lock does not pin, or pins outside its specifier."""
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not for this platform: pip-compile leaves it out too
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{lock_name} does not pin {requirement.name} (pyproject.toml: {requirement})")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{lock_name} pins {requirement.name}=={version}, outside pyproject.toml's {requirement}")
    return problems


def disagreements(runtime_pins, dev_pins):
    return [
        f"{name} is pinned to {version} in {RUNTIME_LOCK} but {dev_pins[name]} in {DEV_LOCK}"
        for name, version in sorted(runtime_pins.items())
        if name in dev_pins and dev_pins[name] != version
    ]


def lock_problems(root=ROOT):
    runtime, dev = declared(root / "pyproject.toml")
    missing = [name for name in (RUNTIME_LOCK, DEV_LOCK) if not (root / name).exists()]
    if missing:
        return [f"{name} is missing" for name in missing]
    runtime_pins = read_pins(root / RUNTIME_LOCK)
    dev_pins = read_pins(root / DEV_LOCK)
    return (
        unlocked(runtime, runtime_pins, RUNTIME_LOCK)
        + unlocked(runtime + dev, dev_pins, DEV_LOCK)
        + stale(runtime, root / RUNTIME_LOCK, RUNTIME_LOCK)
        + stale(runtime + dev, root / DEV_LOCK, DEV_LOCK)
        + disagreements(runtime_pins, dev_pins)
    )


def main():
    problems = lock_problems()
    if problems:
        print("The lock files are out of step with pyproject.toml:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Run `make lock` (README, Dependencies) and commit the requirements files.", file=sys.stderr)
        return 1
    print(f"{RUNTIME_LOCK} and {DEV_LOCK} pin every dependency of pyproject.toml.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
