"""``--model`` option types whose choices are the registered families (no torch).

The choices are read from the family registry (``stylert.models.family``) each time click asks,
so a family registered by its module is a choice of every command without a list kept here. An
unknown family is refused while the options are parsed, before any work, on one line that names
the families: ``Invalid value for '--model': unknown model family 'foo' (fix: use one of adain, ...)``.
"""

from __future__ import annotations

import click


def _families() -> tuple[str, ...]:
    from ..models.family import family_names

    return tuple(family_names())


def _unknown(value, param, ctx, fail) -> None:
    fail(f"unknown model family {value!r} (fix: use one of {', '.join(_families())})", param, ctx)


class FamilyChoice(click.Choice):
    """``click.Choice`` over ``stylert.models.family.family_names()``, read when used."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return _families()

    @choices.setter
    def choices(self, value) -> None:  # click's __init__ assigns it; the registry is the source
        pass

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value in _families():
            return value
        _unknown(value, param, ctx, self.fail)


class LabelledFamily(click.ParamType):
    """``[LABEL=]FAMILY`` (``evaluate run --model``): the value unchanged once FAMILY is a registered
    family; the label's own rules (and an empty side of ``=``) are the command's to check."""

    name = "[LABEL=]FAMILY"

    def convert(self, value, param, ctx):
        family = value.partition("=")[2] if "=" in value else value
        if family.strip() and family.strip() not in _families():
            _unknown(family.strip(), param, ctx, self.fail)
        return value
