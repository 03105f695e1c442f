"""The package's shape: public names, version, imports, loggers, import cost.

These tests read the package that is imported (the installed wheel under nox,
the checkout in an editable install), never a path in the repository, so the
matrix checks the files users get.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import openapp_status

PACKAGE_DIR = Path(openapp_status.__file__).resolve().parent


def _modules() -> List[Path]:
    return sorted(PACKAGE_DIR.rglob("*.py"))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE_DIR.parent)}:{getattr(node, 'lineno', '?')}"


def _public_namespace() -> List[str]:
    """Non-underscore attributes of the package, less its own submodules."""
    names = []
    for name, value in vars(openapp_status).items():
        if name.startswith("_"):
            continue
        if isinstance(value, types.ModuleType) and value.__name__.startswith(
            f"{openapp_status.__name__}."
        ):
            continue
        # ``from __future__ import annotations`` binds a compiler flag, no API.
        if type(value).__module__ == "__future__":
            continue
        names.append(name)
    return sorted(names)


# __all__ ----------------------------------------------------------------------


def _isort_key(name: str) -> Tuple[int, List[Any]]:
    """The order ruff's RUF022 keeps __all__ in, so the test and ruff agree.

    SCREAMING_SNAKE_CASE constants first, then CamelCase classes, then the
    rest, each group in natural order (digits compared as numbers).
    """
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    parts = re.split(r"(\d+)", name)
    return kind, [int(part) if part.isdigit() else part for part in parts]


def test_all_is_sorted_without_duplicates() -> None:
    """__all__ is sorted (constants, classes, functions) and names each export once."""
    exported = list(openapp_status.__all__)

    assert exported == sorted(exported, key=_isort_key)
    assert len(exported) == len(set(exported))


def test_all_matches_the_public_namespace() -> None:
    """__all__ names every public attribute of the package, and nothing else."""
    # __version__ is public by contract; listing it in __all__ is allowed.
    exported = set(openapp_status.__all__) - {"__version__"}
    public = set(_public_namespace())

    assert sorted(public - exported) == [], "public but missing from __all__"
    assert sorted(exported - public) == [], "in __all__ but not a public attribute"


def test_all_names_the_contract() -> None:
    """The names SPEC.md promises at top level are all exported."""
    promised = {
        "DEFAULT_BASE_URL",
        "BackendStatus",
        "Client",
        "RetryPolicy",
        "get_status",
        "wait_for_backend",
        "OpenAppError",
        "ConfigError",
        "TransportError",
        "ConnectError",
        "Timeout",
        "TLSError",
        "ProtocolError",
        "GatewayError",
        "HttpError",
        "AuthError",
        "ApiError",
        "SerializationError",
    }

    assert not promised - set(openapp_status.__all__)


@pytest.mark.parametrize(
    "name",
    [
        name
        for name in sorted(openapp_status.__all__)
        if inspect.isclass(getattr(openapp_status, name, None))
        or inspect.isroutine(getattr(openapp_status, name, None))
    ],
)
def test_each_export_has_a_docstring(name: str) -> None:
    """Every exported class and function carries its own docstring."""
    value = getattr(openapp_status, name)

    # Class docstrings are not inherited; a dataclass without one gets a
    # generated "Name(field: type, ...)" that documents nothing.
    doc = vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__
    assert doc and doc.strip(), f"{name} has no docstring"
    assert not doc.startswith(f"{name}("), f"{name} has only a generated docstring"


# __version__ --------------------------------------------------------------------


def _string(node: ast.AST) -> Optional[str]:
    """The value of a string literal node (``ast.Str`` on Python 3.7), else None."""
    if isinstance(node, ast.Constant):
        value = node.value
    elif type(node).__name__ == "Str":
        value = getattr(node, "s", None)
    else:
        return None
    return value if isinstance(value, str) else None


def _assigns_version(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    else:
        return False
    return any(isinstance(t, ast.Name) and t.id == "__version__" for t in targets)


def test_version_is_a_plain_string_literal() -> None:
    """__version__ is assigned once, at module level, from a string literal."""
    tree = _parse(PACKAGE_DIR / "__init__.py")
    everywhere = [node for node in ast.walk(tree) if _assigns_version(node)]
    top_level = [node for node in tree.body if _assigns_version(node)]

    assert len(everywhere) == 1, "__version__ must be assigned exactly once"
    assert len(top_level) == 1, "__version__ must be assigned at module level"
    (node,) = top_level
    assert isinstance(node, ast.Assign), "a plain `__version__ = '...'`"
    assert _string(node.value) == openapp_status.__version__


def test_version_is_a_release_number() -> None:
    """__version__ is a PEP 440 release such as 0.1.0, 1.2.0rc1 or 1.0.0.post1."""
    pattern = r"\d+(\.\d+){2}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?"

    assert re.fullmatch(pattern, openapp_status.__version__)


def test_installed_metadata_agrees_with_version() -> None:
    """The distribution's metadata carries the version from __init__.py."""
    try:
        from importlib import metadata
    except ImportError:  # Python 3.7: pytest brings the backport
        metadata = pytest.importorskip("importlib_metadata")
    try:
        installed = metadata.version("openapp-status")
    except metadata.PackageNotFoundError:
        pytest.skip("openapp-status is not installed as a distribution")

    assert installed == openapp_status.__version__


def test_suite_runs_against_the_package_it_means_to() -> None:
    """Under nox the package comes from site-packages, else from the checkout."""
    if os.environ.get("OPENAPP_STATUS_TEST_INSTALLED") == "1":
        expected = Path(sysconfig.get_paths()["purelib"]).resolve()
    else:
        expected = Path(__file__).resolve().parent.parent

    assert PACKAGE_DIR.parent == expected, f"imported from {PACKAGE_DIR}"
    assert (PACKAGE_DIR / "py.typed").is_file()


# Imports and loggers -------------------------------------------------------------


def _imports(tree: ast.Module) -> Iterator[Tuple[ast.AST, str]]:
    """Yield each absolute import in a module with the module it names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module
            for alias in node.names:
                yield node, f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and _call_name(node) in {"import_module", "__import__"}
            and node.args
            and _string(node.args[0]) is not None
        ):
            yield node, str(_string(node.args[0]))


def _call_name(node: ast.Call) -> str:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return ""


def test_package_uses_relative_imports_only() -> None:
    """No module imports the package by its absolute name, so a copy vendors."""
    own = openapp_status.__name__
    offenders = [
        f"{_where(path, node)} imports {name}"
        for path in _modules()
        for node, name in _imports(_parse(path))
        if name == own or name.startswith(f"{own}.")
    ]

    assert not offenders


def test_package_never_looks_itself_up_by_distribution() -> None:
    """No importlib.metadata or pkg_resources: a vendored copy has no metadata."""
    banned = ("importlib.metadata", "importlib_metadata", "pkg_resources")
    offenders = []
    for path in _modules():
        tree = _parse(path)
        offenders += [
            f"{_where(path, node)} imports {name}"
            for node, name in _imports(tree)
            if any(name == b or name.startswith(f"{b}.") for b in banned)
        ]
        offenders += [
            f"{_where(path, node)} uses importlib.metadata"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr == "metadata"
            and isinstance(node.value, ast.Name)
            and node.value.id == "importlib"
        ]

    assert not offenders


def _from_module_name(expr: ast.AST, module_names: Dict[str, ast.AST]) -> bool:
    """Whether an expression is computed from __name__ or __package__.

    A module-level name (``_PACKAGE = __name__.rpartition(".")[0]``) is
    followed to its assignment; a literal naming the package disqualifies.
    """
    own = openapp_status.__name__
    if any(own in (_string(node) or "") for node in ast.walk(expr)):
        return False
    names = {node.id for node in ast.walk(expr) if isinstance(node, ast.Name)}
    if names & {"__name__", "__package__"}:
        return True
    followed = {name: module_names.pop(name) for name in names & set(module_names)}
    return any(_from_module_name(value, module_names) for value in followed.values())


def test_loggers_are_named_after_their_module() -> None:
    """getLogger is given __name__ (or a name computed from it), never a literal,
    so a vendored copy's loggers nest under the host package."""
    offenders = []
    for path in _modules():
        tree = _parse(path)
        module_names = {
            node.targets[0].id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _call_name(node) == "getLogger"):
                continue
            named = (
                len(node.args) == 1
                and not node.keywords
                and _from_module_name(node.args[0], dict(module_names))
            )
            if not named:
                offenders.append(f"{_where(path, node)}: {ast.dump(node)}")

    assert not offenders


# Import cost --------------------------------------------------------------------

_IMPORT_PROBE = """
import json, logging, sys, threading
import openapp_status
package = logging.getLogger("openapp_status")
print(json.dumps({
    "file": openapp_status.__file__,
    "modules": sorted(sys.modules),
    "threads": threading.active_count(),
    "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
    "package_handlers": [type(h).__name__ for h in package.handlers],
}))
"""


@pytest.fixture(scope="module")
def fresh_import(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """What a fresh interpreter holds right after `import openapp_status`."""
    # Run from an empty directory with the imported copy first on the path, so
    # the child imports exactly the package this test process imported.
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR.parent))
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        cwd=str(tmp_path_factory.mktemp("import-probe")),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe: Dict[str, Any] = json.loads(result.stdout)
    assert Path(probe["file"]).resolve().parent == PACKAGE_DIR
    return probe


@pytest.mark.parametrize(
    "module",
    [
        "openapp_status.testing",
        "openapp_status.cli",
        "openapp_status.__main__",
        "argparse",
        "http.server",
        "socketserver",
    ],
)
def test_import_leaves_tools_unloaded(
    fresh_import: Dict[str, Any], module: str
) -> None:
    """Importing the package does not load the CLI, the fake backend or servers."""
    assert module not in fresh_import["modules"]


def test_import_loads_no_fake_backend(fresh_import: Dict[str, Any]) -> None:
    """No fake-server module of the package is loaded by a plain import."""
    fakes = [
        m
        for m in fresh_import["modules"]
        if m.startswith("openapp_status.") and "fake" in m.lower()
    ]

    assert not fakes


def test_import_starts_no_threads(fresh_import: Dict[str, Any]) -> None:
    """Importing the package starts no thread."""
    assert fresh_import["threads"] == 1


def test_import_adds_only_a_null_handler(fresh_import: Dict[str, Any]) -> None:
    """The package configures no logging: the root is untouched, its own logger
    has at most a NullHandler."""
    assert fresh_import["root_handlers"] == []
    assert set(fresh_import["package_handlers"]) <= {"NullHandler"}
