"""envs/*.yaml (for --sdm conda / apptainer) pin exactly the versions the Python requirements pin.

Conda channels can't be reached from every machine that runs the tests, so the files are
checked as text: they parse, every package is pinned, and each pin equals requirements.txt's
(torch: the Makefile's).
"""

from __future__ import annotations

import contextlib
import functools
import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from rule_imports import rule_scripts, third_party_imports

REPO = Path(__file__).resolve().parent.parent
ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+!-]+)$")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"requirements.txt: {line!r} is not pinned with =="
            pins[norm(match.group(1))] = match.group(2)
    torch = re.search(r"\btorch==([\w.+-]+)", (REPO / "Makefile").read_text())
    assert torch, "the Makefile pins no torch version"
    pins["torch"] = torch.group(1)
    return pins


def test_there_is_an_env_file_per_rule_group():
    assert {path.stem for path in ENV_FILES} >= {"train", "search", "report"}


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda path: path.name)
def test_env_file_pins_the_required_versions(path):
    env = yaml.safe_load(path.read_text())
    dependencies = env["dependencies"]
    pip = [d for d in dependencies if isinstance(d, dict)]
    conda = [d for d in dependencies if isinstance(d, str)]
    assert len(pip) == 1 and list(pip[0]) == ["pip"], "one pip: section"
    assert "pip" in conda and any(re.fullmatch(r"python=3\.\d+", d) for d in conda), conda
    assert set(conda) - {"pip"} == {d for d in conda if d.startswith("python=")}, (
        "conda packages other than python and pip would not follow requirements.txt"
    )
    pins = required_pins()
    seen = set()
    for entry in pip[0]["pip"]:
        match = PIN.match(entry)
        assert match, f"{path.name}: {entry!r} is not pinned with =="
        name, version = norm(match.group(1)), match.group(2)
        assert name in pins, f"{path.name}: {name} is not in requirements.txt"
        assert version == pins[name], f"{path.name}: {name}=={version}, requirements: {pins[name]}"
        assert name not in seen, f"{path.name}: {name} twice"
        seen.add(name)


def test_every_conda_directive_names_an_env_file():
    rules = "\n".join(p.read_text() for p in sorted((REPO / "rules").glob("*.smk")))
    named = set(re.findall(r'conda:\s*\n\s*"\.\./envs/([\w.-]+)"', rules))
    assert named, "no rule names a conda env"
    assert named <= {path.name for path in ENV_FILES}


@functools.cache
def _distribution_modules() -> dict[str, set[str]]:
    """Installed distribution (normalised name) -> the top-level modules it provides."""
    provided: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        tops = {
            Path(str(file)).parts[0].removesuffix(".py")
            for file in dist.files or []
            if not str(file).startswith((".", "..")) and ".dist-info" not in str(file)
        }
        provided.setdefault(norm(dist.metadata["Name"]), set()).update(tops)
    return provided


def _with_dependencies(names: set[str]) -> set[str]:
    """The distributions pip installs for `names`: they and what they require (no extras)."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        with contextlib.suppress(metadata.PackageNotFoundError):
            for requirement in metadata.requires(name) or []:
                if "extra ==" not in requirement:
                    todo.append(norm(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)))
    return seen


@pytest.mark.parametrize("rule", sorted(rule_scripts()))
def test_each_rule_env_holds_what_its_code_imports(rule):
    """With --sdm conda a rule runs in its env alone: every package its script reaches (through
    the snakesweep functions it calls) must be installed there."""
    env_name, script = rule_scripts()[rule]
    assert env_name, f"rule {rule} names no conda env"
    env = yaml.safe_load((REPO / "envs" / env_name).read_text())
    listed = {norm(PIN.match(entry).group(1)) for entry in env["dependencies"][-1]["pip"]}
    provided = _distribution_modules()
    available = {module for dist in _with_dependencies(listed) for module in provided.get(dist, ())}
    missing = {
        module: where
        for module, where in third_party_imports(script).items()
        if module not in available
    }
    assert not missing, f"rule {rule}: envs/{env_name} lacks the packages of {missing}"
