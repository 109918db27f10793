"""What a rule's script imports, followed into the snakesweep package through the functions it
reaches (tests/test_envs.py checks that the rule's conda env holds those packages).

Imports inside functions are the package's way of keeping light jobs light, so a plain
transitive walk of every import would say that every rule needs torch. This walk follows
names instead: from the script's module-level code to the functions, classes and modules it
names, and collects the third-party imports of the code it reaches.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "snakesweep"


@dataclass
class Scope:
    """One body of code: the imports it makes and the names it uses."""

    imports: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    # `alias.attribute` uses, for `import snakesweep.x as alias` bindings.
    attributes: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Module:
    scopes: dict[str | None, Scope]  # None: the module-level code
    bindings: dict[str, tuple[str, str | None]]  # name -> (module, symbol or None)


def module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def _scan(nodes: list[ast.AST], scope: Scope, bindings: dict) -> None:
    for node in (inner for top in nodes for inner in ast.walk(top)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                scope.imports.append(alias.name)
                bound = alias.asname or alias.name.split(".")[0]
                bindings.setdefault(bound, (alias.name if alias.asname else bound, None))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                scope.imports.append(f"{node.module}.{alias.name}")
                bindings.setdefault(alias.asname or alias.name, (node.module, alias.name))
            scope.imports.append(node.module)
        elif isinstance(node, ast.Name):
            scope.names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            scope.attributes.add((node.value.id, node.attr))


def _is_main_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def parse(path: Path) -> Module:
    tree = ast.parse(path.read_text())
    bindings: dict = {}
    scopes: dict[str | None, Scope] = {None: Scope()}
    module_level = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scopes[node.name] = Scope()
            _scan([node], scopes[node.name], bindings)
        elif not _is_main_block(node):  # `if __name__ == "__main__":` does not run on import
            module_level.append(node)
    _scan(module_level, scopes[None], bindings)
    return Module(scopes, bindings)


def third_party_imports(script: Path) -> dict[str, str]:
    """Top-level third-party module -> the first file reached that imports it."""
    modules: dict[str, Module] = {}
    found: dict[str, str] = {}
    todo: list[tuple[str, Path, str | None]] = [("__script__", script, None)]
    done: set[tuple[str, str | None]] = set()
    while todo:
        name, path, symbol = todo.pop()
        if (name, symbol) in done:
            continue
        done.add((name, symbol))
        module = modules.setdefault(name, parse(path))
        if symbol is not None:
            todo.append((name, path, None))  # a function runs after its module's code
        scope = module.scopes.get(symbol)
        if scope is None:  # a re-export: follow the binding
            target = module.bindings.get(symbol)
            if target:
                _reach(target[0], target[1], todo)
            continue
        for imported in scope.imports:
            root = imported.split(".")[0]
            if root == PACKAGE:
                parts = imported.split(".")
                for depth in range(1, len(parts) + 1):  # parent packages run first
                    _reach(".".join(parts[:depth]), None, todo)
            elif root not in sys.stdlib_module_names:
                found.setdefault(root, str(path.relative_to(REPO)))
        for used in scope.names:
            if used in module.scopes and used != symbol:
                todo.append((name, path, used))
            elif used in module.bindings:
                _reach(*module.bindings[used], todo)
        for alias, attribute in scope.attributes:
            target = module.bindings.get(alias)
            if target:
                target = _as_module(*target)
                if target[1] is None:
                    _reach(target[0], attribute, todo)
    return found


def _as_module(module: str, symbol: str | None) -> tuple[str, str | None]:
    """(`snakesweep.x`, `y`) is the module `snakesweep.x.y` where y is a submodule."""
    if symbol is not None and module_file(f"{module}.{symbol}") is not None:
        return f"{module}.{symbol}", None
    return module, symbol


def _reach(module: str, symbol: str | None, todo: list) -> None:
    if not module.startswith(PACKAGE):
        return
    module, symbol = _as_module(module, symbol)
    path = module_file(module)
    if path is not None:
        todo.append((module, path, symbol))


def rule_scripts() -> dict[str, tuple[str, Path]]:
    """Rule name -> (its conda env file name, its script): a `script:`, the script of a
    `shell:` command constant (`NAME_COMMAND = shell_job("x.py", ...)`) or of a
    `script_command("x.py")`."""
    texts = [smk.read_text() for smk in sorted((REPO / "rules").glob("*.smk"))]
    commands = dict(
        re.findall(r'^(\w+_COMMAND) = shell_job\(\s*"([\w.-]+)"', "\n".join(texts), re.M)
    )
    rules = {}
    for text in texts:
        for block in re.split(r"\n(?=\s*(?:rule|checkpoint) \w+:)", text):
            rule = re.match(r"\s*(?:rule|checkpoint) (\w+):", block)
            env = re.search(r'conda:\s*\n\s*"\.\./envs/([\w.-]+)"', block)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.-]+)"', block) or re.search(
                r'shell:\s*\n\s*script_command\(\s*"([\w.-]+)"', block
            )
            command = re.search(r"shell:\s*\n\s*(\w+_COMMAND)", block)
            name = script.group(1) if script else commands.get(command and command.group(1))
            if rule and name:
                env_name = env.group(1) if env else None
                rules[rule.group(1)] = (env_name, REPO / "scripts" / name)
    return rules
