"""The error hierarchy.

User mistakes (bad files, bad configs, bad spaces) become one line on stderr and exit code 2
in the CLI; everything that subclasses :class:`HpsearchError` is such a mistake or a state
problem the user can act on. The line always names where the problem is (file and field),
what must hold, and what was given.
"""

from __future__ import annotations

from typing import Any


def _short(value: Any, limit: int = 60) -> str:
    """A value as the user typed it, cut to one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HpsearchError(Exception):
    """Base of every error hpsearch raises on purpose.

    Build messages with :meth:`at` so that they read the same everywhere:
    ``SOURCE: FIELD: must HOLD, got GIVEN``.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.message = message
        self.source = source
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(str(p) for p in (self.source, self.field) if p not in (None, ""))
        return f"{where}: {self.message}" if where else self.message

    @classmethod
    def at(
        cls,
        source: str | None,
        field: str | None,
        must: str,
        got: Any = ...,
        hint: str | None = None,
    ) -> HpsearchError:
        """Make ``SOURCE: FIELD: must MUST, got GOT (hint)``; ``got`` is repr'd unless a str."""
        text = f"must {must}"
        if got is not ...:
            text += f", got {got if isinstance(got, str) and got.startswith('<') else _short(got)}"
        if hint:
            text += f" ({hint})"
        return cls(text, source=source, field=field)


class ConfigError(HpsearchError, ValueError):
    """An experiment config (or CLI override) that cannot be run as written."""


class SpaceError(ConfigError):
    """A search-space definition or a parameter set that does not fit the space."""


class DataError(ConfigError):
    """A genotype, phenotype or fold file that cannot be used as given."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup for a name nobody registered (lists the valid names)."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return HpsearchError.__str__(self)


class StateError(HpsearchError):
    """A run directory or strategy state that is inconsistent with the request."""


class TrialFailed(HpsearchError):
    """This trial failed (diverged, raised); the search records it and goes on."""


class FatalError(HpsearchError):
    """The search cannot go on (e.g. too many consecutive failures); state is kept."""

    exit_code = 1
