"""The differences between urllib3 1.26 and 2.x, kept in one place.

Everything else in the package uses the names below and never checks which
urllib3 line is installed. Only what differs lives here; the rest of the
urllib3 API we use (pools, ``urlopen``, ``HTTPResponse.read``) is the same on
both lines.
"""

from __future__ import annotations

from typing import Any, Dict

import urllib3
from urllib3 import exceptions as _exc
from urllib3._collections import HTTPHeaderDict as HTTPHeaderDict  # same on both
from urllib3.util.retry import Retry

URLLIB3_VERSION: str = urllib3.__version__  # type: ignore[attr-defined]

if hasattr(_exc, "NameResolutionError"):  # urllib3 2.x
    NameResolutionError: type = _exc.NameResolutionError
else:  # urllib3 1.26 reports DNS failures as a NewConnectionError

    class NameResolutionError(Exception):  # type: ignore[no-redef]
        """Never raised: stands in for the urllib3 2.x class."""


# Both lines accept these keyword arguments on ``urlopen``, but 1.26 does not
# enforce Content-Length by default: a body cut short would pass as complete.
# A ready Retry object spares urllib3 from building (and logging) one per call.
URLOPEN_OPTIONS: Dict[str, Any] = {
    "retries": Retry(total=False, redirect=False),
    "redirect": False,
    "assert_same_host": False,
    "preload_content": False,
    "decode_content": False,
    "enforce_content_length": True,
}
