"""The compatibility matrix: every supported CPython against both urllib3 lines.

``nox -s wheel`` builds the wheel once; each ``tests`` session installs that
wheel (not the checkout) with the test dependencies into its own venv and runs
pytest, so the matrix tests what users install. ``lint`` runs ruff, mypy and
vermin; ``dist`` builds the sdist and wheel and checks what is inside them.
``.ci/run`` runs all of it, two sessions at a time.

Interpreters are found as ``python3.X`` on PATH; pyenv installations under
``$PYENV_ROOT/versions`` are found too, even when pyenv does not enable them.
A missing interpreter fails the run instead of being skipped.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import nox

ROOT = Path(__file__).resolve().parent
PACKAGE = "openapp_status"
PYTHONS = ["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
LINT_PYTHON = "3.13"  # vermin only sees PEP 701 f-strings when it runs on 3.12+

# The 2.x line of urllib3 that each Python gets: the newest that supports it.
URLLIB3_2 = {
    "3.7": "urllib3>=2.0,<2.1",
    "3.8": "urllib3>=2.2,<2.3",
    "3.9": "urllib3>=2.6,<2.7",
}
URLLIB3_2_NEWEST = "urllib3>=2.7,<3"
URLLIB3_1 = "urllib3==1.26.20"

# The test extra in setup.cfg names the current releases. These are the last
# releases that install on the Pythons that newer ones dropped, so an old
# interpreter gets a known set instead of whatever the resolver backtracks to.
TEST_CONSTRAINTS: Dict[str, List[str]] = {
    "3.7": [
        "pytest==7.4.4",
        "hypothesis==6.79.4",
        "trustme==1.0.0",
        "proxy.py==2.4.10",
    ],
    "3.8": ["pytest==8.3.5", "hypothesis==6.113.0", "trustme==1.1.0"],
    "3.9": ["pytest==8.4.2", "hypothesis==6.141.1"],
}

# Fails on syntax or stdlib APIs newer than 3.7. --eval-annotations: annotations
# must stay 3.7-evaluable (typing.Dict, Optional), since typing.get_type_hints
# on the package's dataclasses evaluates them even under `from __future__`.
VERMIN_FLAGS = ["--target=3.7-", "--violations", "--eval-annotations", "--no-tips"]

# Shared by every session of every nox process, so the wheel is built once.
WHEEL_DIR = Path(os.environ.get("OPENAPP_STATUS_WHEEL_DIR", ROOT / ".nox" / "_wheel"))
WHEEL_SOURCES = ["setup.cfg", "pyproject.toml", "README.md", "LICENSE", PACKAGE]

nox.options.sessions = ["lint", "tests", "dist"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"


def _expose_pyenv_interpreters() -> None:
    """Put the pyenv builds of PYTHONS on PATH as ``python3.X``.

    pyenv's shims answer for every installed version but run only the enabled
    ones, so a directory of small launchers goes first on PATH. Launchers, not
    symlinks: a venv made through a symlink would record the link's directory
    as its home.
    """
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if os.name != "posix" or not versions.is_dir():
        return

    launchers = ROOT / ".nox" / "_interpreters"
    launchers.mkdir(parents=True, exist_ok=True)
    for python in PYTHONS:
        builds = sorted(
            versions.glob(f"{python}.*/bin/python{python}"),
            key=lambda path: [int(part) for part in path.parts[-3].split(".")],
        )
        if not builds:
            continue
        script = f'#!/bin/sh\nexec "{builds[-1]}" "$@"\n'
        launcher = launchers / f"python{python}"
        if launcher.exists() and launcher.read_text() == script:
            continue
        # Written aside and renamed: parallel nox processes import this file too.
        fresh = launchers / f".python{python}.{os.getpid()}"
        fresh.write_text(script)
        fresh.chmod(0o755)
        os.replace(fresh, launcher)

    os.environ["PATH"] = f"{launchers}{os.pathsep}{os.environ.get('PATH', '')}"


_expose_pyenv_interpreters()


@nox.session(python=False)
def wheel(session: nox.Session) -> None:
    """Build the wheel that every tests session installs."""
    _build_wheel(session)


@nox.session(python=PYTHONS, venv_backend="venv")
@nox.parametrize(
    "urllib3",
    [nox.param("2", id="urllib3-2"), nox.param("1.26", id="urllib3-1.26")],
)
def tests(session: nox.Session, urllib3: str) -> None:
    """Run the suite against the built wheel with one urllib3 line."""
    python = str(session.python)
    wheel = _wheel(session)
    if urllib3 == "1.26":
        requirement = URLLIB3_1
    else:
        requirement = URLLIB3_2.get(python, URLLIB3_2_NEWEST)

    constraints = Path(session.create_tmp()) / "constraints.txt"
    constraints.write_text("\n".join(TEST_CONSTRAINTS.get(python, [])) + "\n")
    session.install(f"{wheel}[test]", requirement, "-c", str(constraints))
    # Same version number on every build: force the fresh wheel in.
    session.install("--force-reinstall", "--no-deps", str(wheel))

    session.run(
        "python",
        "-I",
        "-c",
        "import sys, urllib3, openapp_status as p; "
        "print('python', sys.version.split()[0], '| urllib3', urllib3.__version__,"
        " '|', p.__name__, p.__version__, 'from', p.__file__)",
    )

    # The console script, not ``python -m pytest``: that would put the checkout
    # first on sys.path and test the sources instead of the installed wheel.
    session.run(
        "pytest",
        "-o",
        f"cache_dir={session.create_tmp()}/pytest-cache",
        *session.posargs,
        env={"OPENAPP_STATUS_TEST_INSTALLED": "1"},
    )


@nox.session(python=LINT_PYTHON, venv_backend="venv")
def lint(session: nox.Session) -> None:
    """Run ruff, mypy --strict and vermin (the code must run on Python 3.7)."""
    # The test extra too: openapp_status.testing offers a pytest fixture.
    linters = [r for r in _extra("dev") if r.startswith(("ruff", "mypy", "vermin"))]
    session.install(*linters, "urllib3>=2,<3", *_extra("test"))

    # Every check runs, so that one session reports every kind of problem.
    checks = [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "--strict", PACKAGE],
        ["vermin", *VERMIN_FLAGS, PACKAGE],
    ]
    failed = []
    for check in checks:
        try:
            session.run(*check)
        except nox.command.CommandFailed:
            failed.append(" ".join(check[:2]))
    if failed:
        session.error(f"failed: {', '.join(failed)}")


@nox.session(python=LINT_PYTHON, venv_backend="venv")
def dist(session: nox.Session) -> None:
    """Build the sdist and wheel and check what they contain."""
    session.install("build", "twine", "check-wheel-contents")
    out = Path(session.create_tmp()) / "dist"
    shutil.rmtree(out, ignore_errors=True)

    # The default build makes the wheel from the sdist, so a file missing from
    # the sdist breaks the wheel too.
    session.run("python", "-m", "build", "--outdir", str(out), str(ROOT), silent=True)
    artifacts = sorted(str(path) for path in out.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    session.run("check-wheel-contents", *(a for a in artifacts if a.endswith(".whl")))

    _check_wheel(session, out)
    _check_sdist(session, out)


def _extra(name: str) -> List[str]:
    """The requirements of one extra in setup.cfg."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config.get("options.extras_require", name).splitlines()
    return [line.strip() for line in lines if line.strip()]


def _wheel(session: nox.Session) -> Path:
    """Return the built wheel, building it first if the sources are newer."""
    wheels = sorted(WHEEL_DIR.glob(f"{PACKAGE}-*-py3-none-any.whl"))
    newest_source = max(path.stat().st_mtime for path in _sources())
    if len(wheels) == 1 and wheels[0].stat().st_mtime >= newest_source:
        return wheels[0]
    return _build_wheel(session)


def _build_wheel(session: nox.Session) -> Path:
    if importlib.util.find_spec("build") is None:
        session.error(
            "building the wheel needs 'build' beside nox: pip install -e '.[dev]'"
        )

    shutil.rmtree(WHEEL_DIR, ignore_errors=True)
    session.run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--outdir",
        str(WHEEL_DIR),
        str(ROOT),
        external=True,
        silent=True,
    )
    (wheel,) = WHEEL_DIR.glob(f"{PACKAGE}-*-py3-none-any.whl")
    return wheel


def _sources() -> Iterator[Path]:
    for name in WHEEL_SOURCES:
        path = ROOT / name
        if path.is_dir():
            yield from (p for p in path.rglob("*") if "__pycache__" not in p.parts)
        elif path.exists():
            yield path


def _version() -> str:
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise RuntimeError(f"no __version__ in {PACKAGE}/__init__.py")


def _check_wheel(session: nox.Session, out: Path) -> None:
    version = _version()
    (wheel,) = out.glob("*.whl")
    expected = f"{PACKAGE}-{version}-py3-none-any.whl"
    if wheel.name != expected:
        session.error(f"wheel is {wheel.name}, expected {expected}")

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    dist_info = f"{PACKAGE}-{version}.dist-info"
    problems = []
    if f"{PACKAGE}/py.typed" not in names:
        problems.append(f"{PACKAGE}/py.typed missing")
    if not any(n.startswith(f"{dist_info}/") and "LICENSE" in n for n in names):
        problems.append(f"no LICENSE in {dist_info}")
    if f"{dist_info}/entry_points.txt" not in names:
        problems.append("no entry_points.txt (console script)")
    # Catches tests/ and any other top-level directory shipped by mistake.
    strays = [n for n in names if not n.startswith((f"{PACKAGE}/", f"{dist_info}/"))]
    if strays:
        problems.append(f"files outside the package: {strays}")
    if problems:
        session.error(f"{wheel.name}: " + "; ".join(problems))
    session.log(f"{wheel.name}: {len(names)} files, contents as expected")


def _check_sdist(session: nox.Session, out: Path) -> None:
    version = _version()
    (sdist,) = out.glob("*.tar.gz")
    top = f"{PACKAGE}-{version}"
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    required = [
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "setup.cfg",
        "pyproject.toml",
        f"{PACKAGE}/__init__.py",
        f"{PACKAGE}/py.typed",
    ]
    problems = [f"{name} missing" for name in required if name not in names]
    if not any(n.startswith("tests/test_") and n.endswith(".py") for n in names):
        problems.append("no tests/test_*.py")
    if any("__pycache__" in n or n.endswith(".pyc") for n in names):
        problems.append("bytecode in the sdist")
    if problems:
        session.error(f"{sdist.name} ({top}): " + "; ".join(problems))
    session.log(f"{sdist.name}: {len(names)} files, contents as expected")
