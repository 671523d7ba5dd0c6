"""Reading our own source for tests/test_architecture.py: the Python files of each package, the
underscore names they define, and where a module uses another module's underscore names."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.support.world import REPO

OUR_PACKAGES = ("engine", "handlers", "webapp")
CHECKED = (*OUR_PACKAGES, "tests")
# The modules that may use a library's underscore names, one per library: SpiffWorkflow's task
# API (task._set_state and the like), Flask-Login's per-request user (g._login_user), and SQLAlchemy's
# connection and option-engine classes of an engine (engine/store/db.py: SQLite's BEGIN without a listener) and
# its Connection's test for event listeners (engine/store/driver_sql.py: a statement on the driver's cursor).
LIBRARY_ADAPTERS = frozenset({"engine/run/spiff_tasks.py", "engine/bpmn/fast_codec.py", "webapp/auth.py",
                              "engine/store/db.py", "engine/store/driver_sql.py"})
# Underscore names that are public API: gettext's `_`, namedtuple's methods and fields, and lxml's
# element types (documented as lxml.etree._Element and _ElementTree).
PUBLIC_UNDERSCORE = frozenset({"_", "_asdict", "_replace", "_fields", "_make", "_field_defaults",
                               "_Element", "_ElementTree"})
MAX_LINES = 400


@dataclass(frozen=True)
class Use:
    """`name` used at path:line, by `how` ("imports" or "reads")."""

    path: str
    line: int
    how: str
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.how} {self.name}"


def python_files(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts)


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC_UNDERSCORE


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return [node.target]
    return []


def defined_names(tree: ast.Module) -> set[str]:
    """The underscore names a module defines: module-level functions, classes and variables, class
    attributes and methods, and attributes its methods set on self or cls."""
    names: set[str] = set()

    def add_statement(node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in _targets(node):
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name):
                    names.add(leaf.id)

    for node in tree.body:
        add_statement(node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                add_statement(statement)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            names.add(node.attr)
    return {name for name in names if private(name)}


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def underscore_uses(path: Path, tree: ast.Module) -> tuple[list[Use], list[Use]]:
    """(imports of our modules' underscore names, reads of underscore attributes on objects other than
    self and cls that this module does not define itself): each a use of another module's private name."""
    own = defined_names(tree)
    imported, read = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            for alias in node.names:
                if private(alias.name):
                    imported.append(Use(relative(path), node.lineno, "imports", f"{module}.{alias.name}"))
        elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in own \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            read.append(Use(relative(path), node.lineno, "reads", f"{ast.unparse(node.value)}.{node.attr}"))
    return imported, read
