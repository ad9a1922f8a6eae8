"""Numeric options, checked when they are parsed: finite, in range, the option's name in the error.

click's own ``FLOAT`` and ``FloatRange`` accept ``nan`` and ``inf`` (``nan`` passes every range
comparison), so a ``--lr nan`` or a ``--seconds inf`` would run and fail far from its cause.
Every float option of every command uses ``Number``; comma-separated lists use ``parse_numbers``.
"""

from __future__ import annotations

import math

import click


class Number(click.FloatRange):
    """A finite float, optionally in a range (``click.FloatRange``'s arguments). ``nan``, ``inf`` and
    ``-inf`` are refused with the option's name. ``check(number)``, where given, is the library's own
    rule for the value (its ``StylertError``, with the fix, becomes the option's error); the range is
    then the one that rule enforces, shown in ``--help``."""

    name = "number"

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False,
                 max_open: bool = False, check=None):
        super().__init__(min=min, max=max, min_open=min_open, max_open=max_open, clamp=False)
        self.check = check

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.check is not None:
            from ..errors import StylertError

            try:
                self.check(number)
            except StylertError as err:
                self.fail(str(err), param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # click writes "x<=None" for a range without bounds: no range, nothing to show
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()


#: A finite float, any value.
FINITE = Number()


def parse_numbers(value: str | None, name: str, check=None) -> tuple[float, ...] | None:
    """``"0.5"`` or ``"0.2,0.5,1"`` -> finite floats; ``check(values)`` then applies the option's own
    rule (a ``StylertError`` becomes the option's error). BadParameter naming ``name`` otherwise."""
    if value is None:
        return None
    try:
        values = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or a comma-separated list of numbers",
                                 param_hint=name) from None
    if not values:
        raise click.BadParameter("needs at least one number", param_hint=name)
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise click.BadParameter(f"{value!r} holds {bad[0]}, which is not a finite number", param_hint=name)
    if check is not None:
        from ..errors import StylertError

        try:
            check(values)
        except StylertError as err:
            raise click.BadParameter(str(err), param_hint=name) from None
    return values
