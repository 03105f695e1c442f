"""BackendStatus: parsing, serialising, and the version helpers."""

from __future__ import annotations

from typing import Any

import pytest

from openapp_status import BackendStatus, ConfigError, SerializationError


def test_from_dict_keeps_the_two_fields_and_ignores_extras() -> None:
    status = BackendStatus.from_dict(
        {"environment": "prod", "version": "0.14.2", "uptime": 3}
    )
    assert status == BackendStatus(environment="prod", version="0.14.2")
    assert status.to_dict() == {"environment": "prod", "version": "0.14.2"}


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (None, "got null"),
        ([], "got an array"),
        ("ok", "got a string"),
        (3, "got a number"),
        ({}, "'environment' must be a string, got nothing"),
        ({"environment": "prod"}, "'version' must be a string, got nothing"),
        ({"environment": 1, "version": "1.0.0"}, "got a number"),
        ({"environment": "prod", "version": None}, "got null"),
        ({"environment": "prod", "version": True}, "got a boolean"),
        ({"environment": "prod", "version": ["1"]}, "got an array"),
    ],
)
def test_from_dict_rejects_what_is_not_a_backend_status(
    data: Any, complaint: str
) -> None:
    with pytest.raises(SerializationError) as info:
        BackendStatus.from_dict(data)
    assert complaint in str(info.value)


def test_direct_construction_checks_types() -> None:
    with pytest.raises(TypeError, match="version"):
        BackendStatus("prod", 14)  # type: ignore[arg-type]


def test_is_frozen_and_hashable() -> None:
    status = BackendStatus("prod", "1.0.0")
    with pytest.raises(AttributeError):
        status.version = "2.0.0"  # type: ignore[misc]
    assert len({status, BackendStatus("prod", "1.0.0")}) == 1


@pytest.mark.parametrize(
    ("version", "info"),
    [
        ("0.14.2", (0, 14, 2, "", "")),
        ("1.0.0-rc.1+build.5", (1, 0, 0, "rc.1", "build.5")),
        ("0.14", None),
        ("latest", None),
        ("v1.2.3", None),
    ],
)
def test_version_info(version: str, info: Any) -> None:
    assert BackendStatus("prod", version).version_info == info


@pytest.mark.parametrize(
    ("version", "requirement", "expected"),
    [
        ("0.14.2", "^0.14", True),
        ("0.15.0", "^0.14", False),
        ("0.15.0", ">=0.14, <0.16", True),
        ("0.14.2", "~0.14.2", True),
        ("0.14.2", "=0.14.2", True),
        ("0.14.3-rc.1", "^0.14", False),
        ("latest", "*", False),
    ],
)
def test_satisfies(version: str, requirement: str, expected: bool) -> None:
    assert BackendStatus("prod", version).satisfies(requirement) is expected


def test_a_malformed_requirement_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="requirement"):
        BackendStatus("prod", "1.0.0").satisfies(">=1.0,,<2")
