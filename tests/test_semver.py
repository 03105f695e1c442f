"""Versions and Cargo version requirements, as ``openapp_status._semver`` reads them.

The tables follow the Cargo book ("Specifying Dependencies") and the way the
Rust semver crate 1.x, which Cargo uses, evaluates requirements. A row of a
matching table gives a requirement, the versions it matches and the versions
it rejects.
"""

from __future__ import annotations

import ast
import copy
import itertools
import pickle
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openapp_status import _semver
from openapp_status._semver import (
    Requirement,
    VersionInfo,
    parse_requirement,
    parse_version,
)

# requirement -> (versions it matches, versions it rejects)
Table = Dict[str, Tuple[List[str], List[str]]]


def version(text: str) -> VersionInfo:
    parsed = parse_version(text)
    assert parsed is not None, text
    return parsed


def rows(*tables: Table) -> List[object]:
    return [
        pytest.param(requirement, matched, rejected, id=requirement)
        for table in tables
        for requirement, (matched, rejected) in table.items()
    ]


def assert_verdicts(requirement: str, matched: List[str], rejected: List[str]) -> None:
    parsed = parse_requirement(requirement)

    verdicts = {text: parsed.matches(version(text)) for text in matched + rejected}

    expected = {**dict.fromkeys(matched, True), **dict.fromkeys(rejected, False)}
    assert verdicts == expected


# ---------------------------------------------------------------- versions

VALID_VERSIONS = [
    ("0.0.0", (0, 0, 0, "", "")),
    ("0.14.2", (0, 14, 2, "", "")),
    ("10.20.30", (10, 20, 30, "", "")),
    ("1.2.3-alpha", (1, 2, 3, "alpha", "")),
    ("1.2.3-alpha.1", (1, 2, 3, "alpha.1", "")),
    ("1.2.3-0.3.7", (1, 2, 3, "0.3.7", "")),
    ("1.2.3-x.7.z.92", (1, 2, 3, "x.7.z.92", "")),
    ("1.2.3-x-y-z.--", (1, 2, 3, "x-y-z.--", "")),
    ("1.2.3-1a", (1, 2, 3, "1a", "")),
    ("1.2.3-01a", (1, 2, 3, "01a", "")),
    ("1.2.3+build.5", (1, 2, 3, "", "build.5")),
    ("1.2.3+001", (1, 2, 3, "", "001")),
    ("1.2.3-rc.1+sha.5114f85", (1, 2, 3, "rc.1", "sha.5114f85")),
    ("1.0.0+21AF26D3----117B344092BD", (1, 0, 0, "", "21AF26D3----117B344092BD")),
    ("1.2.3-99999999999999999999999", (1, 2, 3, "99999999999999999999999", "")),
    ("18446744073709551615.0.0", (18446744073709551615, 0, 0, "", "")),
]

INVALID_VERSIONS = [
    "",
    "0.14",
    "1",
    "latest",
    "v1.2.3",
    "V1.2.3",
    "=1.2.3",
    "^1.2.3",
    "1.2.3.4",
    "1.2.x",
    "1.2.*",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "-1.2.3",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-01",
    "1.2.3-alpha.01",
    "1.2.3-alpha..1",
    "1.2.3-alpha.",
    "1.2.3-.alpha",
    "1.2.3+build..1",
    "1.2.3+a+b",
    "1.2.3-alpha_1",
    "1.2.3-ä",
    "\u0661.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1.2.3\n",
    "1 .2.3",
    "18446744073709551616.0.0",
    "1.2." + "9" * 5000,
]


@pytest.mark.parametrize(
    ("text", "expected"), VALID_VERSIONS, ids=[text for text, _ in VALID_VERSIONS]
)
def test_parse_version_reads_semver(text: str, expected: VersionInfo) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", INVALID_VERSIONS, ids=lambda text: repr(text)[:40])
def test_parse_version_refuses_anything_else(text: str) -> None:
    assert parse_version(text) is None


# ---------------------------------------------------------------- matching

CARET: Table = {
    "^1.2.3": (
        ["1.2.3", "1.2.4", "1.3.0", "1.99.99"],
        ["1.2.2", "1.1.9", "0.9.9", "2.0.0"],
    ),
    "^1.2": (["1.2.0", "1.2.9", "1.9.0"], ["1.1.9", "2.0.0"]),
    "^1": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "^0.2.3": (["0.2.3", "0.2.9"], ["0.2.2", "0.3.0", "1.2.3"]),
    "^0.2": (["0.2.0", "0.2.9"], ["0.1.9", "0.3.0"]),
    "^0.0.3": (["0.0.3"], ["0.0.2", "0.0.4", "0.1.3"]),
    "^0.0": (["0.0.0", "0.0.9"], ["0.1.0", "1.0.0"]),
    "^0": (["0.0.0", "0.9.9"], ["1.0.0"]),
    "^0.0.0": (["0.0.0"], ["0.0.1", "0.1.0"]),
    "1.2.3": (["1.2.3", "1.9.0"], ["1.2.2", "2.0.0"]),
    "0.14": (["0.14.0", "0.14.7"], ["0.13.9", "0.15.0", "1.14.0"]),
    "0.0.3": (["0.0.3"], ["0.0.4"]),
    "^ 1.2": (["1.2.0"], ["1.1.0"]),
}

TILDE: Table = {
    "~1.2.3": (["1.2.3", "1.2.9"], ["1.2.2", "1.3.0", "2.0.0"]),
    "~1.2": (["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
    "~1": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "~0.2.3": (["0.2.3", "0.2.9"], ["0.2.2", "0.3.0"]),
    "~0": (["0.0.0", "0.9.9"], ["1.0.0"]),
    "~ 1.2": (["1.2.5"], ["1.3.0"]),
}

WILDCARD: Table = {
    "*": (["0.0.0", "0.14.2", "99.0.0", "1.0.0+build"], []),
    "x": (["0.0.0", "99.0.0"], []),
    "X": (["0.0.0", "99.0.0"], []),
    " * ": (["1.2.3"], []),
    "1.*": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "1.x": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "1.X": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "1.*.*": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "1.x.X": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "1.2.*": (["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
    "1.2.x": (["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
    "0.*": (["0.0.0", "0.99.0"], ["1.0.0"]),
    "0.0.*": (["0.0.0", "0.0.9"], ["0.1.0"]),
}

COMPARISON: Table = {
    "=1.2.3": (["1.2.3"], ["1.2.2", "1.2.4", "1.3.0"]),
    "= 1.2.3": (["1.2.3"], ["1.2.4"]),
    ">1.2.3": (["1.2.4", "1.3.0", "2.0.0"], ["1.2.3", "1.2.2", "0.9.9"]),
    ">=1.2.3": (["1.2.3", "1.2.4", "2.0.0"], ["1.2.2", "0.9.9"]),
    ">= 1.2.0": (["1.2.0", "3.0.0"], ["1.1.9"]),
    "<1.2.3": (["1.2.2", "0.0.0"], ["1.2.3", "1.3.0"]),
    "<=1.2.3": (["1.2.3", "1.2.2", "0.1.0"], ["1.2.4", "2.0.0"]),
    "> 1": (["2.0.0"], ["1.9.9"]),
    "< 2": (["1.9.9"], ["2.0.0"]),
}

# Partial versions after an operator, with the bounds the semver crate gives
# them: a missing number is "any", so >1 means >=2.0.0 and <=1.2 means <1.3.0.
PARTIAL: Table = {
    "=1.2": (["1.2.0", "1.2.9"], ["1.1.9", "1.3.0"]),
    "=1": (["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
    "=0": (["0.0.0", "0.9.9"], ["1.0.0"]),
    ">1.2": (["1.3.0", "2.0.0"], ["1.2.0", "1.2.9", "1.1.0"]),
    ">1": (["2.0.0"], ["1.0.0", "1.9.9"]),
    ">=1.2": (["1.2.0", "1.3.0", "2.0.0"], ["1.1.9"]),
    ">=1": (["1.0.0", "9.0.0"], ["0.9.9"]),
    "<1.2": (["1.1.9", "0.9.0"], ["1.2.0", "1.2.9"]),
    "<1": (["0.9.9"], ["1.0.0"]),
    "<=1.2": (["1.2.0", "1.2.9", "0.1.0"], ["1.3.0"]),
    "<=1": (["1.0.0", "1.9.9"], ["2.0.0"]),
    "=1.*": (["1.0.0", "1.9.9"], ["2.0.0"]),
    ">1.*": (["2.0.0"], ["1.9.9"]),
    "<=1.2.*": (["1.2.9"], ["1.3.0"]),
    "^1.*": (["1.0.0", "1.9.9"], ["2.0.0"]),
    "~1.2.x": (["1.2.9"], ["1.3.0"]),
}

MULTIPLE: Table = {
    ">=0.14, <0.16": (["0.14.0", "0.15.9"], ["0.13.9", "0.16.0", "1.0.0"]),
    ">= 0.14 , < 0.16": (["0.14.0", "0.15.9"], ["0.16.0"]),
    " >=0.14 ,<0.16 ": (["0.15.0"], ["0.16.0"]),
    "> 0.0.9, <= 2.5.3": (["0.0.10", "1.0.0", "2.5.3"], ["0.0.8", "2.5.4"]),
    "0.3.0, 0.4.0": ([], ["0.0.8", "0.3.0", "0.4.0"]),
    "<= 0.2.0, >= 0.5.0": ([], ["0.0.8", "0.3.0", "0.5.1"]),
    "0.1.0, 0.1.4, 0.1.6": (["0.1.6", "0.1.9"], ["0.1.0", "0.1.4", "0.2.0"]),
    "^1.2, <1.5": (["1.2.0", "1.4.9"], ["1.1.0", "1.5.0"]),
}

# A pre-release version matches only if some comparator has the same
# major.minor.patch and a pre-release of its own; within that, semver 2.0
# precedence decides.
PRERELEASE: Table = {
    ">=1.2.3-alpha": (
        ["1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-beta", "1.2.3", "1.2.4", "2.0.0"],
        ["1.2.3-0", "1.2.3-Alpha", "1.2.4-alpha", "2.0.0-alpha", "1.2.2"],
    ),
    "^1.2.3": (["1.2.3"], ["1.2.3-alpha", "1.2.4-alpha", "1.3.0-alpha"]),
    "^1": ([], ["1.0.0-beta1", "1.0.1-pre", "0.1.0-alpha"]),
    "^0.1.2": ([], ["0.1.2-beta", "0.1.3-alpha", "0.2.0-pre"]),
    "^0.5.1-alpha3": (
        ["0.5.1-alpha3", "0.5.1-alpha4", "0.5.1-beta", "0.5.1", "0.5.5"],
        ["0.5.1-alpha1", "0.5.2-alpha3", "0.5.5-pre", "0.5.0-pre", "0.6.0"],
    ),
    "^1.4.2-beta.5": (
        ["1.4.2", "1.4.3", "1.4.2-beta.5", "1.4.2-beta.6", "1.4.2-c"],
        ["0.9.9", "2.0.0", "1.4.2-alpha", "1.4.2-beta.4", "1.4.3-beta.5"],
    ),
    "~1.2.3-beta.2": (
        ["1.2.3", "1.2.4", "1.2.3-beta.2", "1.2.3-beta.10"],
        ["1.3.3", "1.1.4", "1.2.3-beta.1", "1.2.4-beta.2"],
    ),
    "*": ([], ["1.0.0-alpha", "0.0.0-0"]),
    "1.*": ([], ["1.2.0-pre"]),
    "1.2.*": ([], ["1.2.2-pre"]),
    "=1.2.3-rc.1": (["1.2.3-rc.1"], ["1.2.3-rc.2", "1.2.3-rc", "1.2.3"]),
    "=1.2": ([], ["1.2.5-rc.1"]),
    ">1.2.3-rc.1": (["1.2.3-rc.2", "1.2.3", "1.3.0"], ["1.2.3-rc.1", "1.3.0-rc.2"]),
    "<1.2.3-rc.1": (["1.2.3-beta", "1.2.2"], ["1.2.3-rc.1", "1.2.2-rc.2"]),
    "<=2.1.0-alpha2": (
        ["2.1.0-alpha2", "2.1.0-alpha1", "2.0.0", "1.0.0"],
        ["2.1.0", "2.2.0-alpha1", "2.0.0-alpha2", "1.0.0-alpha2"],
    ),
    "<1.0.0": (["0.9.9"], ["1.0.0-beta", "0.9.9-alpha"]),
    ">=0.14.0-rc.1, <0.16": (
        ["0.14.0-rc.1", "0.14.0-rc.2", "0.14.0", "0.15.9"],
        ["0.14.0-beta", "0.15.0-rc.1", "0.16.0-rc.1", "0.16.0"],
    ),
    ">1.0.0-alpha, <1.0.0": (["1.0.0-beta"], ["1.0.0-alpha", "1.0.0"]),
    # Only a full version can carry the pre-release that lets one in.
    ">1.0.0-alpha, <1.0": ([], ["1.0.0-beta"]),
    ">1.0.0-alpha, <1": ([], ["1.0.0-beta"]),
    # Cargo skips the pre-release comparison for a partial caret but not for
    # a partial tilde; it shows only when another comparator lets one in.
    "^1, >=1.5.0-alpha": (["1.5.0-beta"], []),
    "^1.5, >=1.5.0-alpha": (["1.5.0-beta"], []),
    "~1, >=1.5.0-alpha": ([], ["1.5.0-beta"]),
    "~1.5, >=1.5.0-alpha": ([], ["1.5.0-beta"]),
}

BUILD_METADATA: Table = {
    "=1.2.3": (["1.2.3+build", "1.2.3+other.7"], []),
    "=1.2.3+build": (["1.2.3", "1.2.3+build", "1.2.3+other"], ["1.2.4+build"]),
    ">1.2.3": ([], ["1.2.3+zzz"]),
    "<1.2.3+zzz": (["1.2.2+zzz"], ["1.2.3", "1.2.3+aaa"]),
    "^1.2.3+build": (["1.2.3", "1.9.0+x"], ["2.0.0+build"]),
    "=1.2.3-rc.1+build": (["1.2.3-rc.1", "1.2.3-rc.1+other"], ["1.2.3"]),
}


@pytest.mark.parametrize(
    ("requirement", "matched", "rejected"),
    rows(CARET, TILDE, WILDCARD, COMPARISON, PARTIAL),
)
def test_requirement_bounds(
    requirement: str, matched: List[str], rejected: List[str]
) -> None:
    """Each operator and partial version has Cargo's bounds."""
    assert_verdicts(requirement, matched, rejected)


@pytest.mark.parametrize(("requirement", "matched", "rejected"), rows(MULTIPLE))
def test_every_comparator_must_match(
    requirement: str, matched: List[str], rejected: List[str]
) -> None:
    assert_verdicts(requirement, matched, rejected)


@pytest.mark.parametrize(("requirement", "matched", "rejected"), rows(PRERELEASE))
def test_prerelease_rule(
    requirement: str, matched: List[str], rejected: List[str]
) -> None:
    assert_verdicts(requirement, matched, rejected)


@pytest.mark.parametrize(("requirement", "matched", "rejected"), rows(BUILD_METADATA))
def test_build_metadata_is_ignored(
    requirement: str, matched: List[str], rejected: List[str]
) -> None:
    assert_verdicts(requirement, matched, rejected)


# Each requirement and the range the Cargo book (or, for partial comparisons,
# the semver crate) spells it out as; both must agree on every probe version.
EXPANSIONS = [
    ("^1.2.3", ">=1.2.3, <2.0.0"),
    ("^1.2", ">=1.2.0, <2.0.0"),
    ("^1", ">=1.0.0, <2.0.0"),
    ("^0.2.3", ">=0.2.3, <0.3.0"),
    ("^0.2", ">=0.2.0, <0.3.0"),
    ("^0.0.3", ">=0.0.3, <0.0.4"),
    ("^0.0", ">=0.0.0, <0.1.0"),
    ("^0", ">=0.0.0, <1.0.0"),
    ("1.2.3", "^1.2.3"),
    ("0.2", "^0.2"),
    ("~1.2.3", ">=1.2.3, <1.3.0"),
    ("~1.2", ">=1.2.0, <1.3.0"),
    ("~1", ">=1.0.0, <2.0.0"),
    ("*", ">=0.0.0"),
    ("1.*", ">=1.0.0, <2.0.0"),
    ("1.2.*", ">=1.2.0, <1.3.0"),
    ("=1.2", ">=1.2.0, <1.3.0"),
    ("=1", ">=1.0.0, <2.0.0"),
    (">1.2", ">=1.3.0"),
    (">1", ">=2.0.0"),
    (">=1.2", ">=1.2.0"),
    ("<1.2", "<1.2.0"),
    ("<=1.2", "<1.3.0"),
    ("<=1", "<2.0.0"),
]

PROBES = [
    (major, minor, patch, pre, "")
    for major, minor, patch in itertools.product(range(4), range(5), range(5))
    for pre in ("", "alpha")
]


@pytest.mark.parametrize(
    ("requirement", "expansion"),
    EXPANSIONS,
    ids=[f"{short} is {spelled_out}" for short, spelled_out in EXPANSIONS],
)
def test_requirement_equals_its_documented_range(
    requirement: str, expansion: str
) -> None:
    short, spelled_out = parse_requirement(requirement), parse_requirement(expansion)

    disagreements = [
        probe for probe in PROBES if short.matches(probe) != spelled_out.matches(probe)
    ]

    assert disagreements == []


# Every 1.0.0 pre-release meets this, and its pre-release opens the gate, so
# the tests below see the pure precedence order.
LET_PRERELEASES_IN = ">=1.0.0-0"

PRECEDENCE = [
    "1.0.0-0",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-99999999999999999999999",
    "1.0.0--",
    "1.0.0-1a",
    "1.0.0-A",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-alpha.beta.0",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]


@pytest.mark.parametrize("lower", PRECEDENCE[:-1], ids=lambda text: f"{text} < ...")
def test_prerelease_precedence(lower: str) -> None:
    """Semver 2.0 rule 11: numbers by value and first, ASCII, longer is higher."""
    above = f">{lower}, {LET_PRERELEASES_IN}"
    at_most = f"<={lower}, {LET_PRERELEASES_IN}"
    higher = PRECEDENCE[PRECEDENCE.index(lower) + 1 :]

    misordered = [
        text
        for text in higher
        if not parse_requirement(above).matches(version(text))
        or parse_requirement(at_most).matches(version(text))
    ]

    assert misordered == []


# ------------------------------------------------------ malformed requirements

MALFORMED = [
    ("", "empty requirement"),
    ("   ", "empty requirement"),
    (">=", "expected a version number after '>=', found ''"),
    ("~", "expected a version number after '~'"),
    ("latest", "expected a version number, found 'latest'"),
    ("^v1", "expected a version number after '^', found 'v1'"),
    ("v1.2.3", "expected a version number, found 'v1.2.3'"),
    ("~>1", "expected a version number after '~', found '>1'"),
    (">= >= 1", "expected a version number after '>=', found '>= 1'"),
    ("==1", "expected a version number after '=', found '=1'"),
    ("=>1", "expected a version number after '=', found '>1'"),
    ("!=1", "expected a version number, found '!=1'"),
    (">=*", "expected a version number after '>=', found '*'"),
    ("*.1", "expected a version number, found '*.1'"),
    ("\t1.2", "expected a version number, found '\\t1.2'"),
    (">=\t1", "expected a version number after '>=', found '\\t1'"),
    (">=0.14,, <1", "empty comparator"),
    (",1", "empty comparator"),
    ("1,", "empty comparator"),
    ("1, ", "empty comparator"),
    (",", "empty comparator"),
    ("1.2.3.4", "too many version numbers in '1.2.3.4'"),
    ("1.2.*.*", "too many version numbers"),
    ("1.", "expected a version number or wildcard after '1.'"),
    ("1.2.", "expected a version number or wildcard after '1.2.'"),
    ("1.a", "expected a version number or wildcard after '1.'"),
    ("1.2.3 foo", "unexpected 'foo' after '1.2.3'"),
    ("1.2.3 - 2.3.4", "unexpected '- 2.3.4' after '1.2.3'"),
    ("=1.2.3 || =2.3.4", "unexpected '|| =2.3.4' after '=1.2.3'"),
    ("> 0.0.9 <= 2.5.3", "unexpected '<= 2.5.3' after '> 0.0.9'"),
    ("1 .2", "unexpected '.2' after '1'"),
    ("1.2.3\n", "unexpected '\\n' after '1.2.3'"),
    ("1_000", "unexpected '_000' after '1'"),
    ("1.2.3-alpha_1", "unexpected '_1' after '1.2.3-alpha'"),
    ("01.2", "leading zero in major version number '01'"),
    ("1.02", "leading zero in minor version number '02'"),
    ("^1.2.03", "leading zero in patch version number '03'"),
    ("18446744073709551616", "major version number 18446744073709551616 is too"),
    ("1.2." + "9" * 5000, "patch version number 999"),
    ("1.*.3", "a version number follows a wildcard in '1.*.3'"),
    (">=1.x.1", "a version number follows a wildcard"),
    ("*, 1.0", "wildcard '*' must be the only comparator"),
    ("1.0, *", "wildcard '*' must be the only comparator"),
    ("x, <2", "wildcard 'x' must be the only comparator"),
    ("1.2-alpha", "a pre-release or build needs MAJOR.MINOR.PATCH: '1.2-alpha'"),
    ("1-alpha", "a pre-release or build needs MAJOR.MINOR.PATCH"),
    ("1.2.*-alpha", "a pre-release or build needs MAJOR.MINOR.PATCH"),
    ("1.2+build", "a pre-release or build needs MAJOR.MINOR.PATCH"),
    ("1.2.3-", "empty pre-release"),
    ("1.2.3+", "empty build metadata"),
    ("1.2.3-a..b", "empty identifier in pre-release 'a..b'"),
    ("1.2.3-a.", "empty identifier in pre-release 'a.'"),
    ("1.2.3+b.", "empty identifier in build metadata 'b.'"),
    ("1.2.3-01", "leading zero in pre-release identifier '01'"),
    ("1.2.3-rc.007", "leading zero in pre-release identifier '007'"),
    (", ".join(f">{n}" for n in range(33)), "more than 32 comparators"),
]


@pytest.mark.parametrize(
    ("text", "reason"), MALFORMED, ids=[repr(text)[:40] for text, _ in MALFORMED]
)
def test_malformed_requirement_is_refused(text: str, reason: str) -> None:
    """The ValueError is one line naming the requirement and what is wrong."""
    with pytest.raises(ValueError) as caught:
        parse_requirement(text)

    message = str(caught.value)
    assert message.startswith(f"invalid version requirement {text!r}: ")
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize("op", ["", "=", ">", ">=", "<", "<=", "~", "^"])
def test_identifier_edge_cases_are_accepted(op: str) -> None:
    """Leading zeros are fine inside an alphanumeric identifier and in a build."""
    for text in ["1.2.3-01a", "1.2.3+01", "1.2.3-1-1+1-1-1", "1.2.3--", "1.2.3+-"]:
        parse_requirement(op + text)


def test_thirty_two_comparators_are_accepted() -> None:
    requirement = parse_requirement(", ".join(f"<{n}" for n in range(1, 33)))

    assert requirement.matches(version("0.9.0"))


# ---------------------------------------------------------- the object itself


def test_requirement_keeps_its_text() -> None:
    requirement = parse_requirement(" >= 0.14, <0.16 ")

    assert isinstance(requirement, Requirement)
    assert requirement.text == " >= 0.14, <0.16 "
    assert repr(requirement) == "Requirement(' >= 0.14, <0.16 ')"
    assert str(requirement) == " >= 0.14, <0.16 "


def test_requirement_is_immutable() -> None:
    requirement = parse_requirement("^0.14")

    with pytest.raises(AttributeError):
        requirement.text = "^1"
    with pytest.raises(AttributeError):
        del requirement.text
    with pytest.raises(AttributeError):
        requirement.extra = 1
    assert requirement.text == "^0.14"


EQUALITY = [
    ("^1.2", "1.2", True),
    ("1.*", "1.x", True),
    ("1.*", "1.*.*", True),
    ("*", "X", True),
    (">= 0.14,<0.16", ">=0.14, <0.16", True),
    ("=1.2.3+build", "=1.2.3", True),
    ("^1.2", "^1.2.0", False),
    ("=1", "1.*", False),
    (">=0.14, <0.16", "<0.16, >=0.14", False),
]


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    EQUALITY,
    ids=[f"{a} {'==' if eq else '!='} {b}" for a, b, eq in EQUALITY],
)
def test_requirement_equality_follows_its_comparators(
    left: str, right: str, equal: bool
) -> None:
    a, b = parse_requirement(left), parse_requirement(right)

    assert (a == b) is equal
    if equal:
        assert hash(a) == hash(b)


def test_requirement_copies_and_pickles() -> None:
    requirement = parse_requirement(">=0.14, <0.16")

    for clone in (
        copy.copy(requirement),
        copy.deepcopy(requirement),
        pickle.loads(pickle.dumps(requirement)),
    ):
        assert clone == requirement
        assert clone.text == requirement.text


def test_module_imports_only_re_and_typing() -> None:
    """The module stays cheap to import and free of I/O."""
    tree = ast.parse(Path(_semver.__file__).read_text(encoding="utf-8"))

    imported: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")

    assert imported <= {"__future__", "re", "typing"}


# ------------------------------------------------------------------ properties

numbers = st.one_of(st.integers(0, 3), st.integers(0, 2**64 - 1))
prereleases = st.lists(
    st.sampled_from(["0", "1", "2", "10", "alpha", "beta", "rc", "x-y", "1a", "-"]),
    max_size=3,
).map(".".join)
builds = st.lists(st.sampled_from(["001", "build", "sha-5114f85"]), max_size=2).map(
    ".".join
)


def render(major: int, minor: int, patch: int, pre: str, build: str = "") -> str:
    text = f"{major}.{minor}.{patch}"
    if pre:
        text += f"-{pre}"
    if build:
        text += f"+{build}"
    return text


@settings(max_examples=100, deadline=None, database=None)
@given(numbers, numbers, numbers, prereleases, builds)
def test_every_version_round_trips_and_matches_itself(
    major: int, minor: int, patch: int, pre: str, build: str
) -> None:
    text = render(major, minor, patch, pre, build)
    info = (major, minor, patch, pre, build)

    assert parse_version(text) == info
    assert parse_requirement(f"={text}").matches(info)
    assert parse_requirement(f">={text}").matches(info)
    assert parse_requirement(f"<={text}").matches(info)
    assert not parse_requirement(f">{text}").matches(info)
    assert not parse_requirement(f"<{text}").matches(info)


small = st.integers(0, 3)


@settings(max_examples=100, deadline=None, database=None)
@given(small, small, small, prereleases, small, small, small, prereleases)
def test_caret_and_tilde_equal_their_ranges(
    major: int,
    minor: int,
    patch: int,
    pre: str,
    v_major: int,
    v_minor: int,
    v_patch: int,
    v_pre: str,
) -> None:
    """^x.y.z is >=x.y.z, <next-breaking; ~x.y.z is >=x.y.z, <x.(y+1).0."""
    base = render(major, minor, patch, pre)
    if major > 0:
        breaking = f"{major + 1}.0.0"
    elif minor > 0:
        breaking = f"0.{minor + 1}.0"
    else:
        breaking = f"0.0.{patch + 1}"
    info = (v_major, v_minor, v_patch, v_pre, "")

    def verdict(requirement: str) -> bool:
        return parse_requirement(requirement).matches(info)

    assert verdict(f"^{base}") == verdict(f">={base}, <{breaking}")
    assert verdict(f"~{base}") == verdict(f">={base}, <{major}.{minor + 1}.0")


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(alphabet="0a1.-+_", max_size=8))
def test_versions_and_requirements_agree_on_suffixes(suffix: str) -> None:
    """A pre-release or build valid in a version is valid in a requirement."""
    valid_version = parse_version(f"1.2.3{suffix}") is not None
    try:
        parse_requirement(f"=1.2.3{suffix}")
    except ValueError:
        valid_requirement = False
    else:
        valid_requirement = True

    assert valid_version == valid_requirement
