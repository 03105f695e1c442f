"""Configuration is checked before any request, with messages that help."""

from __future__ import annotations

from typing import Any, Dict

import pytest

import openapp_status
from openapp_status import DEFAULT_BASE_URL, Client, ConfigError, RetryPolicy

KEY = "https://door.example.com_openapp_s3cr3t-Value"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.example.com/api/v1", "https://api.example.com/api/v1"),
        ("https://api.example.com/api/v1/", "https://api.example.com/api/v1"),
        ("HTTPS://API.Example.COM/api/v1", "https://api.example.com/api/v1"),
        ("http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080/api/v1"),
        ("https://gw.example/openapp/api/v1", "https://gw.example/openapp/api/v1"),
        ("http://[::1]:9000/api/v1", "http://[::1]:9000/api/v1"),
        ("https://api.example.com", "https://api.example.com"),
    ],
)
def test_base_url_is_normalised(base_url: str, expected: str) -> None:
    assert Client(base_url).base_url == expected


def test_base_url_precedence() -> None:
    assert Client().base_url == DEFAULT_BASE_URL == "https://api.openapp.house/api/v1"
    assert Client(api_key=KEY).base_url == "https://door.example.com/api/v1"
    assert Client("http://other:1/x", api_key=KEY).base_url == "http://other:1/x"
    assert Client(api_key="plain-key").base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("base_url", "complaint"),
    [
        ("ftp://example.com", "http or https"),
        ("example.com/api/v1", "http or https"),
        ("https://", "no host"),
        ("https://user:pw@example.com", "user-info"),
        ("https://example.com/api?x=1", "query or fragment"),
        ("https://example.com/api#frag", "query or fragment"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com/\r\nX: y", "control characters"),
        ("", "empty"),
        (42, "must be a string"),
    ],
)
def test_bad_base_urls_are_config_errors(base_url: Any, complaint: str) -> None:
    with pytest.raises(ConfigError, match="base_url") as info:
        Client(base_url)
    assert complaint in str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.attempts == 0


@pytest.mark.parametrize(
    ("api_key", "complaint"),
    [
        ("", "empty"),
        ("abc\r\ndef", "control characters"),
        ("abc\x00def", "control characters"),
        ("https://x.example_openapp_ab cd", "without spaces"),
        ("https://x.example_openapp_", "empty secret"),
        ("https://x.example/path_openapp_secret", "bare"),
        ("ftp://x.example_openapp_secret", "bare"),
        ("x.example_openapp_secret", "bare"),
        ("https://x.example_openapp_sécret", "ASCII"),
        (12345, "must be a string"),
    ],
)
def test_bad_api_keys_are_config_errors_that_hide_the_key(
    api_key: Any, complaint: str
) -> None:
    with pytest.raises(ConfigError, match="api_key") as info:
        Client("https://example.com", api_key=api_key)
    assert complaint in str(info.value)
    if isinstance(api_key, str) and len(api_key) > 3:
        secret = api_key.rpartition("_")[2]
        assert not secret or secret not in str(info.value)
        assert api_key not in repr(info.value.args)


def test_a_base_url_that_is_really_a_token_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        Client(KEY + "/x?y")
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": (1, 2, 3)}, "timeout"),
        ({"timeout": (1, 0)}, "timeout (read)"),
        ({"timeout": (0, 1)}, "timeout (connect)"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"max_body_size": 0}, "max_body_size"),
        ({"user_agent": "probe\r\nX-Evil: 1"}, "user_agent"),
        ({"user_agent": "probe\x00"}, "user_agent"),
        ({"user_agent": "probe ☃"}, "user_agent"),
        ({"retry": 3}, "retry"),
        ({"verify": "no"}, "verify"),
        ({"trust_env": 1}, "trust_env"),
        ({"proxy": "socks5://127.0.0.1:1080"}, "socks"),
        ({"ca_certs": "/nonexistent/ca.pem"}, "ca_certs"),
    ],
)
def test_bad_options_are_config_errors_naming_the_option(
    options: Dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Client("https://example.com", **options)
    assert complaint in str(info.value)


def test_good_timeouts_are_accepted() -> None:
    Client("https://example.com", timeout=0.5)
    Client("https://example.com", timeout=(1, 5))
    Client("https://example.com", timeout=[1.5, 2])  # type: ignore[arg-type]


def test_one_shot_helpers_reject_unknown_options() -> None:
    with pytest.raises(ConfigError, match="unknown client option"):
        openapp_status.get_status("https://example.com", timout=1)
    with pytest.raises(ConfigError, match="timeout"):
        openapp_status.wait_for_backend("https://example.com", timeout=-1)


def test_repr_shows_the_url_and_never_the_key() -> None:
    client = Client(api_key=KEY)
    assert repr(client) == (
        "Client(base_url='https://door.example.com/api/v1', api_key=<hidden>)"
    )
    assert "s3cr3t" not in repr(client) + repr(client.status)
    assert "api_key=None" in repr(Client())
    assert "s3cr3t" not in repr(client.__dict__.get("_policy"))


def test_retry_policy_is_taken_as_given() -> None:
    policy = RetryPolicy(max_retries=1)
    assert Client("https://example.com", retry=policy)._policy is policy
