"""The differences between urllib3 1.26 and 2.x, kept in one place.

Everything else in the package uses the names below and never checks which
urllib3 line is installed. Only what differs lives here; the rest of the
urllib3 API we use (pools, ``urlopen``, ``HTTPResponse.read``) is the same on
both lines.
"""

from __future__ import annotations

import urllib3
from urllib3 import exceptions as _exc

URLLIB3_VERSION: str = urllib3.__version__  # type: ignore[attr-defined]

if hasattr(_exc, "NameResolutionError"):  # urllib3 2.x
    NameResolutionError: type = _exc.NameResolutionError
else:  # urllib3 1.26 reports DNS failures as a NewConnectionError

    class NameResolutionError(Exception):  # type: ignore[no-redef]
        """Never raised: stands in for the urllib3 2.x class."""


# Both lines accept these keyword arguments on ``urlopen``, but 1.26 does not
# enforce Content-Length by default: a body cut short would pass as complete.
URLOPEN_OPTIONS = {
    "retries": False,
    "redirect": False,
    "assert_same_host": False,
    "preload_content": False,
    "decode_content": False,
    "enforce_content_length": True,
}
