"""A copy of the package works when vendored inside another package.

The package directory is copied to ``somehost/_vendor/openapp_status`` and
driven from a fresh interpreter that sees only that copy and urllib3. An import
hook refuses the top-level ``openapp_status``, so an absolute self-import, a
metadata lookup by distribution name or a hard-coded logger name shows up here
as a failure, not as a silent use of the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlsplit

import pytest
import urllib3

import openapp_status

PACKAGE_DIR = Path(openapp_status.__file__).resolve().parent
VENDORED = "somehost._vendor.openapp_status"

_PROBE = """
import json, logging, sys

class RefuseTopLevel:
    '''Fail any import of the top-level package, and remember it.'''

    attempts = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "openapp_status":
            self.attempts.append(name)
            raise ImportError("the vendored copy imported " + name)
        return None

hook = RefuseTopLevel()
sys.meta_path.insert(0, hook)

from somehost._vendor.openapp_status import BackendStatus, get_status
from somehost._vendor.openapp_status.testing import FakeBackend

with FakeBackend() as backend:
    url = backend.url
    status = get_status(backend.url)

print(json.dumps({
    "url": url,
    "type": type(status).__module__ + "." + type(status).__qualname__,
    "is_backend_status": isinstance(status, BackendStatus),
    "environment": status.environment,
    "version": status.version,
    "attempts": hook.attempts,
    "top_level_modules": sorted(
        m for m in sys.modules if m.split(".")[0] == "openapp_status"
    ),
    "loggers": sorted(
        name for name in logging.Logger.manager.loggerDict
        if "openapp_status" in name
    ),
}))
"""


def _vendor(root: Path) -> None:
    """Copy the package to ``root/somehost/_vendor/openapp_status``."""
    vendor = root / "somehost" / "_vendor"
    shutil.copytree(
        str(PACKAGE_DIR),
        str(vendor / "openapp_status"),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (root / "somehost" / "__init__.py").write_text('"""A host application."""\n')
    (vendor / "__init__.py").write_text('"""Third-party code, copied."""\n')


@pytest.fixture(scope="module")
def vendored_run(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """Run a status probe through the vendored copy in a fresh interpreter."""
    root = tmp_path_factory.mktemp("vendoring")
    _vendor(root)

    # -S skips site-packages (and with it any editable install of this
    # project); PYTHONPATH gives back the host and the directory that holds
    # urllib3, whatever else that directory holds.
    urllib3_home = Path(urllib3.__file__).resolve().parent.parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and not key.startswith("OPENAPP_")
    }
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(urllib3_home)])
    result = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE],
        cwd=str(root),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    probe: Dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return probe


def test_vendored_copy_probes_the_fake_backend(vendored_run: Dict[str, Any]) -> None:
    """get_status through the vendored copy returns the vendored BackendStatus."""
    host = urlsplit(vendored_run["url"]).hostname or ""
    assert host == "localhost" or host == "::1" or host.startswith("127.")
    assert vendored_run["type"].startswith(f"{VENDORED}.")
    assert vendored_run["is_backend_status"]
    assert isinstance(vendored_run["environment"], str)
    assert vendored_run["environment"]
    assert isinstance(vendored_run["version"], str)
    assert vendored_run["version"]


def test_vendored_copy_never_imports_the_top_level_package(
    vendored_run: Dict[str, Any],
) -> None:
    """Nothing in the copy reaches for ``openapp_status`` by its absolute name."""
    assert vendored_run["attempts"] == []
    assert vendored_run["top_level_modules"] == []


def test_vendored_loggers_nest_under_the_host(vendored_run: Dict[str, Any]) -> None:
    """The copy's loggers are named after its modules, under the host package."""
    loggers = vendored_run["loggers"]

    assert loggers, "the package creates at least its NullHandler logger"
    assert all(name.startswith(VENDORED) for name in loggers), loggers
