"""The architecture, checked: no import cycles among our modules, no module using another module's
underscore names, no source file above 400 lines, tests sharing helpers only through tests/support,
and the layers of pyproject.toml's [tool.importlinter] (engine < handlers < webapp, and the
engine's subpackages). README.md, "Tests", says how to run them alone."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import grimp
import pytest

from tests.support.architecture import (
    CHECKED,
    LIBRARY_ADAPTERS,
    MAX_LINES,
    OUR_PACKAGES,
    defined_names,
    parse,
    python_files,
    relative,
    underscore_uses,
)
from tests.support.world import REPO


def module_path(module: str) -> str:
    base = REPO / module.replace(".", "/")
    return relative(base / "__init__.py" if base.is_dir() else base.with_suffix(".py"))


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def shortest_cycle(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    """start -> ... -> start through the component's members, fewest imports first."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & members):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is in no cycle")


def test_no_import_cycles_among_our_modules():
    """Function-level and TYPE_CHECKING imports count: an import moved into a function to dodge a
    cycle is still a cycle."""
    built = grimp.build_graph(*OUR_PACKAGES, cache_dir=None)
    graph = {module: set(built.find_modules_directly_imported_by(module)) for module in built.modules}
    cycles = []
    for component in strongly_connected(graph):
        cycle = shortest_cycle(graph, component[0], set(component))
        steps = []
        for importer, imported in zip(cycle, cycle[1:], strict=False):
            lines = sorted(d["line_number"] for d in built.get_import_details(importer=importer, imported=imported))
            steps.append(f"    {module_path(importer)}:{lines[0] if lines else '?'}: {importer} imports {imported}")
        others = sorted(set(component) - set(cycle))
        cycles.append(f"  {' -> '.join(cycle)}" + (f" (the cycle also holds {', '.join(others)})" if others else "")
                      + "\n" + "\n".join(steps))
    if cycles:
        pytest.fail("import cycles among our modules:\n" + "\n".join(cycles), pytrace=False)


def test_no_module_uses_another_modules_underscore_names():
    """Underscore names are the defining module's own: another module may neither import them nor
    read them off an object. SpiffWorkflow's underscore methods (task._set_state, ...) are used by one
    adapter module only."""
    trees = {path: parse(path) for path in python_files(*CHECKED)}
    definers: dict[str, set[str]] = {}
    for path, tree in trees.items():
        for name in defined_names(tree):
            definers.setdefault(name, set()).add(relative(path))
    problems = []
    for path, tree in trees.items():
        imported, read = underscore_uses(path, tree)
        problems += [f"  {use}" for use in imported]
        for use in read:
            attr = use.name.rsplit(".", 1)[1]
            if attr in definers:
                problems.append(f"  {use} (defined in {', '.join(sorted(definers[attr]))})")
            elif use.path not in LIBRARY_ADAPTERS:
                problems.append(f"  {use} (a library's underscore name: only {', '.join(sorted(LIBRARY_ADAPTERS))} may)")
    if problems:
        pytest.fail("modules using another module's underscore names:\n" + "\n".join(sorted(problems)), pytrace=False)


@pytest.mark.parametrize("package", CHECKED)
def test_no_source_file_is_longer_than_400_lines(package):
    long = []
    for path in python_files(package):
        with path.open(encoding="utf-8") as source:
            count = sum(1 for _ in source)
        if count > MAX_LINES:
            long.append(f"  {relative(path)}:{count}: {count} lines")
    if long:
        pytest.fail(f"files above {MAX_LINES} lines (split them by responsibility):\n" + "\n".join(long), pytrace=False)


TEST_MODULE = re.compile(r"^tests(\.\w+)*\.(test_\w+|conftest)$")


def test_tests_share_helpers_through_tests_support_only():
    """A test module imports nothing from another test module or a conftest: what tests share lives
    in tests/support with public names; fixtures stay in conftest.py files."""
    problems = []
    for path in python_files("tests"):
        for node in ast.walk(parse(path)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            problems += [f"  {relative(path)}:{node.lineno}: imports from {module}"
                         for module in modules if module and TEST_MODULE.match(module)]
    if problems:
        pytest.fail("imports from test modules (move what they share to tests/support):\n" + "\n".join(problems), pytrace=False)


def test_the_import_layers_hold():
    """`lint-imports` (import-linter) against the contracts in pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} is missing: install the test extra (pip install -e '.[test]')")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    broken = result.stdout.split("Broken contracts", 1)[-1].strip("-\n ")
    if result.returncode != 0:
        pytest.fail(f"import-linter contracts broken (pyproject.toml [tool.importlinter]):\n{broken}", pytrace=False)
