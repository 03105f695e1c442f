"""Semantic versions and Cargo version requirements, evaluated as Cargo does.

This module owns two parsers and one rule: ``MAJOR.MINOR.PATCH[-PRE][+BUILD]``
versions (semver 2.0, strictly), Cargo requirement strings such as ``0.14``,
``~1.2``, ``1.*`` or ``>=0.14, <0.16``, and the decision whether a version
matches, which follows the Rust ``semver`` crate 1.x that Cargo uses, its
pre-release rule included. It is pure computation: no I/O, no logging, and no
imports beyond ``re`` and ``typing``, so that importing the package stays cheap.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional, Tuple

__all__ = ["Requirement", "VersionInfo", "parse_requirement", "parse_version"]

VersionInfo = Tuple[int, int, int, str, str]
"""``(major, minor, patch, prerelease, build)``; the last two are "" when absent."""

# The semver crate keeps each number in a u64 and rejects larger ones.
_MAX_NUMBER = 2**64 - 1
_MAX_DIGITS = len(str(_MAX_NUMBER))

# Also the semver crate's limit; more is surely a mistake, not a requirement.
_MAX_COMPARATORS = 32

# Semver 2.0 identifiers: numeric ones have no leading zero, and only the
# pre-release cares, since build metadata never takes part in precedence.
_NUMBER = r"(?:0|[1-9][0-9]*)"
_PRE_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_IDENTIFIER = r"[0-9A-Za-z-]+"
_PRERELEASE = re.compile(rf"{_PRE_IDENTIFIER}(?:\.{_PRE_IDENTIFIER})*")
_BUILD = re.compile(rf"{_BUILD_IDENTIFIER}(?:\.{_BUILD_IDENTIFIER})*")
_VERSION = re.compile(
    rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})"
    rf"(?:-({_PRERELEASE.pattern}))?"
    rf"(?:\+({_BUILD.pattern}))?"
)

# A comparator is read in two steps so that an error can name the operator.
# The version pattern is loose on purpose (leading zeros, a pre-release after a
# partial version); the checks after it turn each slip into a precise message.
_OPERATOR = re.compile(r"(>=|<=|[=<>~^]?) *")
_COMPARATOR_VERSION = re.compile(
    r"(?P<major>[0-9]+)"
    r"(?:\.(?P<minor>[0-9]+|[*xX]))?"
    r"(?:\.(?P<patch>[0-9]+|[*xX]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]*))?"
    r"(?:\+(?P<build>[0-9A-Za-z.-]*))?"
)
_WILDCARDS = ("*", "x", "X")


def parse_version(text: str) -> Optional[VersionInfo]:
    """Return ``(major, minor, patch, prerelease, build)``, or None if not semver.

    Only the full semver 2.0 form is a version: ``0.14``, ``v1.2.3``,
    ``1.2.3.4``, ``01.2.3`` and surrounding whitespace are all refused.
    """
    match = _VERSION.fullmatch(text)
    if match is None:
        return None

    major, minor, patch = match.group(1, 2, 3)
    if max(len(major), len(minor), len(patch)) > _MAX_DIGITS:
        return None
    numbers = int(major), int(minor), int(patch)
    if max(numbers) > _MAX_NUMBER:
        return None

    return (*numbers, match.group(4) or "", match.group(5) or "")


def parse_requirement(text: str) -> Requirement:
    """Parse a Cargo version requirement; raise ValueError if it is malformed.

    The error message is one line naming the requirement and what is wrong
    with it, for example ``invalid version requirement '>=0.14,, <1': empty
    comparator``.
    """
    return Requirement(text)


class _Comparator(NamedTuple):
    """One comparison such as ``>=0.14``; absent numbers of a partial version are None.

    ``op`` is one of ``= > >= < <= ~ ^``, or ``*`` for a wildcard written
    without an operator (``1.2.*``), which Cargo evaluates like ``=``.
    Build metadata is dropped when parsing: it never changes a match.
    """

    op: str
    major: int
    minor: Optional[int]
    patch: Optional[int]
    pre: str


class Requirement:
    """A Cargo version requirement, such as ``^0.14`` or ``>=0.14, <0.16``.

    Built from its text, which ``text`` keeps as given; immutable, hashable
    and equal to another requirement with the same comparators. Cargo's rules
    apply: no operator means ``^``, and comparators separated by commas must
    all match. ``*`` alone (or ``x``, ``X``) matches every release.
    """

    __slots__ = ("_comparators", "text")

    text: str
    _comparators: Tuple[_Comparator, ...]

    def __init__(self, text: str) -> None:
        try:
            comparators = _parse_comparators(text)
        except ValueError as exc:
            raise ValueError(f"invalid version requirement {text!r}: {exc}") from None

        object.__setattr__(self, "text", text)
        object.__setattr__(self, "_comparators", comparators)

    def matches(self, version: VersionInfo) -> bool:
        """Whether ``version`` meets every comparator, under Cargo's pre-release rule.

        A pre-release such as ``1.3.0-rc.1`` matches only if some comparator
        names the same ``1.3.0`` with a pre-release of its own, so ``>=1.2``
        never lets a release candidate in by accident, while ``>=1.3.0-rc.0``
        does. Build metadata is ignored.
        """
        if not all(_matches(cmp, version) for cmp in self._comparators):
            return False
        if not version[3]:
            return True

        return any(
            cmp.pre and (cmp.major, cmp.minor, cmp.patch) == version[:3]
            for cmp in self._comparators
        )

    def __repr__(self) -> str:
        return f"Requirement({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirement):
            return NotImplemented
        return self._comparators == other._comparators

    def __hash__(self) -> int:
        return hash(self._comparators)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Requirement is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Requirement is immutable; cannot delete {name!r}")

    def __reduce__(self) -> Tuple[type, Tuple[str]]:
        # The guarded __setattr__ would defeat pickle's default slot restore.
        return (Requirement, (self.text,))


def _parse_comparators(text: str) -> Tuple[_Comparator, ...]:
    """Split ``text`` on commas and parse each comparator; ValueError says why not.

    Like Cargo, spaces (and only spaces) may surround operators, versions and
    commas; a tab or a newline is a malformed requirement.
    """
    if not text.strip(" "):
        raise ValueError("empty requirement")
    if text.strip(" ") in _WILDCARDS:
        return ()

    pieces = [piece.strip(" ") for piece in text.split(",")]
    if len(pieces) > _MAX_COMPARATORS:
        raise ValueError(f"more than {_MAX_COMPARATORS} comparators")

    return tuple(_parse_comparator(piece) for piece in pieces)


def _parse_comparator(piece: str) -> _Comparator:
    """Parse one comparator, already stripped of the spaces around it."""
    if not piece:
        raise ValueError("empty comparator")
    if piece in _WILDCARDS:
        raise ValueError(f"wildcard {piece!r} must be the only comparator")

    op = _OPERATOR.match(piece)
    assert op is not None  # the pattern also matches the empty string
    match = _COMPARATOR_VERSION.match(piece, op.end())
    if match is None:
        after = f" after {op.group(1)!r}" if op.group(1) else ""
        found = piece[op.end() :]
        raise ValueError(f"expected a version number{after}, found {found!r}")

    written, rest = piece[: match.end()], piece[match.end() :]
    if rest:
        raise ValueError(_describe_trailing(written, rest, match.group("patch")))

    minor_text, patch_text = match.group("minor", "patch")
    pre, build = match.group("pre", "build")
    wildcard = minor_text in _WILDCARDS or patch_text in _WILDCARDS
    if minor_text in _WILDCARDS and patch_text not in (None, *_WILDCARDS):
        raise ValueError(f"a version number follows a wildcard in {written!r}")
    if (pre is not None or build is not None) and (patch_text is None or wildcard):
        raise ValueError(f"a pre-release or build needs MAJOR.MINOR.PATCH: {written!r}")
    if pre is not None and not _PRERELEASE.fullmatch(pre):
        raise ValueError(_describe_identifiers(pre, "pre-release"))
    if build is not None and not _BUILD.fullmatch(build):
        raise ValueError(_describe_identifiers(build, "build metadata"))

    # Cargo reads "1.2.*" as "=1.2" but keeps an explicit operator: ">1.*" is ">1".
    default = "*" if wildcard else "^"
    return _Comparator(
        op=op.group(1) or default,
        major=_number(match.group("major"), "major"),
        minor=_optional_number(minor_text, "minor"),
        patch=_optional_number(patch_text, "patch"),
        pre=pre or "",
    )


def _describe_trailing(written: str, rest: str, patch: Optional[str]) -> str:
    """Say what is wrong with the text that follows a comparator's version."""
    if rest.startswith(".") and patch is not None:
        return f"too many version numbers in {written + rest!r}"
    if rest.startswith("."):
        return f"expected a version number or wildcard after {written + '.'!r}"

    found = rest.lstrip(" ")
    return f"unexpected {found!r} after {written!r} (separate comparators with ',')"


def _describe_identifiers(value: str, what: str) -> str:
    """Say why a pre-release or build metadata failed its pattern.

    The comparator pattern already limits them to ASCII letters, digits, '-'
    and '.', so an empty identifier or a leading zero is all that is left.
    """
    identifiers = value.split(".")
    if not value:
        return f"empty {what}"
    if "" in identifiers:
        return f"empty identifier in {what} {value!r}"

    for identifier in identifiers:
        if len(identifier) > 1 and identifier.isdigit() and identifier[0] == "0":
            return f"leading zero in {what} identifier {identifier!r}"
    return f"invalid {what} {value!r}"


def _optional_number(text: Optional[str], part: str) -> Optional[int]:
    """Read a minor or patch number; None when it is absent or a wildcard."""
    if text is None or text in _WILDCARDS:
        return None
    return _number(text, part)


def _number(digits: str, part: str) -> int:
    """Read one version number as Cargo does: no leading zero, at most u64."""
    if len(digits) > 1 and digits.startswith("0"):
        raise ValueError(f"leading zero in {part} version number {digits!r}")
    if len(digits) > _MAX_DIGITS or int(digits) > _MAX_NUMBER:
        raise ValueError(f"{part} version number {digits} is too large")
    return int(digits)


def _matches(cmp: _Comparator, version: VersionInfo) -> bool:
    """Whether ``version`` satisfies one comparator, before the pre-release rule."""
    if cmp.op in ("=", "*"):
        return _is_exact(cmp, version)
    if cmp.op == ">":
        return _compare(cmp, version) > 0
    if cmp.op == ">=":
        return _compare(cmp, version) > 0 or _is_exact(cmp, version)
    if cmp.op == "<":
        return _compare(cmp, version) < 0
    if cmp.op == "<=":
        return _compare(cmp, version) < 0 or _is_exact(cmp, version)

    numbers = _given_numbers(cmp)
    if cmp.op == "~":
        # ~1.2.3 and ~1.2 keep major.minor; ~1 keeps the major only.
        kept = min(2, len(numbers))
        at_least = _compare(cmp, version) > 0 or _is_exact(cmp, version)
        return version[:kept] == numbers[:kept] and at_least

    # ^: the numbers up to the first non-zero one are kept (^1.2 keeps 1,
    # ^0.2 keeps 0.2, ^0.0.3 keeps all three), the rest may only grow. Cargo
    # skips the pre-release comparison for a partial caret (^1.2 accepts
    # 1.2.0-rc.1 here), unlike ~1.2; the pre-release rule in matches() then
    # decides, so the difference shows only beside another comparator.
    nonzero = [i for i, number in enumerate(numbers) if number != 0]
    kept = nonzero[0] + 1 if nonzero else len(numbers)
    return version[:kept] == numbers[:kept] and _compare(cmp, version) >= 0


def _given_numbers(cmp: _Comparator) -> Tuple[int, ...]:
    """The numbers a comparator spells out: ``(1,)`` for ``^1``, three at most."""
    if cmp.minor is None:
        return (cmp.major,)
    if cmp.patch is None:
        return (cmp.major, cmp.minor)
    return (cmp.major, cmp.minor, cmp.patch)


def _is_exact(cmp: _Comparator, version: VersionInfo) -> bool:
    """Whether ``version`` equals ``cmp`` on the numbers it gives, and on pre-release.

    A partial comparator has no pre-release, so ``=1.2`` refuses ``1.2.5-rc.1``.
    """
    return _compare(cmp, version) == 0 and version[3] == cmp.pre


def _compare(cmp: _Comparator, version: VersionInfo) -> int:
    """Order ``version`` against ``cmp``: -1, 0 or 1, by semver 2.0 precedence.

    Only the numbers ``cmp`` gives take part, so ``1.2.9`` compares equal to
    a partial ``1.2``; the pre-release counts only after a full version.
    """
    for have, want in zip(version[:3], (cmp.major, cmp.minor, cmp.patch)):
        if want is None:
            return 0
        if have != want:
            return 1 if have > want else -1

    return _compare_prerelease(version[3], cmp.pre)


def _compare_prerelease(have: str, want: str) -> int:
    """Order two pre-releases by semver 2.0 rule 11; "" (a release) is highest."""
    if have == want:
        return 0
    if not have or not want:
        return 1 if not have else -1

    have_key, want_key = _precedence_key(have), _precedence_key(want)
    return 1 if have_key > want_key else -1


def _precedence_key(prerelease: str) -> Tuple[Tuple[int, int, str], ...]:
    """Sort key of a pre-release: numeric identifiers by value, below the others.

    Numbers compare by length first, which is by value since they have no
    leading zero, and needs no int() of an arbitrarily long identifier.
    Tuple order gives the rest of rule 11: ASCII order between alphanumeric
    identifiers, and a shorter list first when all its identifiers are equal.
    """
    return tuple(
        (0, len(identifier), identifier)
        if identifier.isdigit() and identifier.isascii()
        else (1, 0, identifier)
        for identifier in prerelease.split(".")
    )
