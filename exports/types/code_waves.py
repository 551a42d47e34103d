"""`codeWaves`: the `codes` rows of one wave, chosen by the required `dateKey` parameter (a
numeric string, validated with the orig 400 messages). `.csv` in the vf_scoring storage."""

from __future__ import annotations

import re

from django.db.models import Q

from campaigns import selectors
from exports.errors import BadRequest
from exports.types.base import Parameter
from exports.types.codes import CodesExport

_NUMERIC = re.compile(r"[0-9]+")


def javascript_typeof(value: object) -> str:
    """The name JavaScript's `typeof` gives a JSON value, as the orig error message shows it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def parse_date_key(body: dict) -> str:
    """The orig checks, in the orig order: present, a string, only digits."""
    date_key = body.get("dateKey")
    if date_key is None:
        raise BadRequest(
            "The 'dateKey' parameter is required for export type 'codeWaves'.",
            "Missing 'dateKey' value for 'codeWave'.",
        )
    if not isinstance(date_key, str):
        received = javascript_typeof(date_key)
        raise BadRequest(
            f"Date key type was invalid. Expected a numeric string, but received type: '{received}'.",
            "The 'dateKey' value must be a string.",
        )
    if not _NUMERIC.fullmatch(date_key):
        raise BadRequest(
            f"Date key value, '{date_key},' was invalid. The value must be a numeric string.",
            "The 'dateKey' value must be a numeric string.",
        )
    return date_key


class CodeWavesExport(CodesExport):
    key = "codeWaves"
    label = "Code wave"
    description = "The codes of one wave (dateKey), as in the codes export."
    parameters = (Parameter("dateKey", "string", True, "The wave's date key, a numeric string."),)
    storage_alias = "vf_scoring"

    def parse_parameters(self, body: dict) -> dict:
        return {"dateKey": parse_date_key(body)}

    def code_condition(self, parameters: dict) -> Q | None:
        return selectors.code_condition_wave(date_key=parameters["dateKey"])
