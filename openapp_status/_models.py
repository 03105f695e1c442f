"""BackendStatus, the answer of ``GET /status``, and its version checks.

This module owns the shape of a healthy answer and nothing about HTTP: it
turns decoded JSON into a typed value, or says precisely why it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional

from .errors import ConfigError, SerializationError

if TYPE_CHECKING:
    from ._semver import VersionInfo


@dataclass(frozen=True)
class BackendStatus:
    """What the backend says about itself: its environment and its version.

    ``version`` is the backend's Cargo package version; ``version_info`` and
    ``satisfies()`` read it as semver, the way Cargo does.
    """

    environment: str
    version: str

    def __post_init__(self) -> None:
        for name in ("environment", "version"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"BackendStatus.{name} must be a string, got {value!r}")

    @classmethod
    def from_dict(cls, data: object) -> BackendStatus:
        """Build a BackendStatus from decoded JSON; extra fields are ignored.

        Raises SerializationError when ``data`` is not an object whose
        ``environment`` and ``version`` are strings.
        """
        if not isinstance(data, dict):
            raise SerializationError(f"expected a JSON object, got {_json_type(data)}")
        for name in ("environment", "version"):
            value = data.get(name)
            if not isinstance(value, str):
                got = "nothing" if name not in data else _json_type(value)
                raise SerializationError(f"field {name!r} must be a string, got {got}")
        return cls(data["environment"], data["version"])

    def to_dict(self) -> Dict[str, str]:
        """Return the JSON object the backend sent, as a dict."""
        return {"environment": self.environment, "version": self.version}

    @property
    def version_info(self) -> Optional[VersionInfo]:
        """``(major, minor, patch, prerelease, build)``, or None if not semver.

        ``prerelease`` and ``build`` are strings, empty when absent.
        """
        from ._semver import parse_version  # only probes that check versions pay

        return parse_version(self.version)

    def satisfies(self, requirement: str) -> bool:
        """Whether ``version`` meets a Cargo requirement such as ``^0.14``.

        A version that is not semver satisfies no requirement; a malformed
        requirement raises ConfigError.
        """
        from ._semver import parse_requirement

        try:
            parsed = parse_requirement(requirement)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        info = self.version_info
        return info is not None and parsed.matches(info)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)
