"""``FamilyChoice``: a ``--model`` option whose choices are the registered families (no torch).

The choices are read from the family registry (``stylert.models.family``) each time click asks,
so a family registered by its module is a choice of every command without a list kept here.
"""

from __future__ import annotations

import click


class FamilyChoice(click.Choice):
    """``click.Choice`` over ``stylert.models.family.family_names()``, read when used."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        from ..models.family import family_names

        return tuple(family_names())

    @choices.setter
    def choices(self, value) -> None:  # click's __init__ assigns it; the registry is the source
        pass
