"""The API's JSON parser: DRF's, with a nesting limit.

Python's json module recurses once per nesting level, so a body of 100,000 `[` raises
RecursionError deep inside the parser (a 500, before authentication). The depth is measured
first, by a scan that does not recurse, and anything deeper than MAX_DEPTH is a ParseError (400).
No request of this API nests more than three levels.
"""

from __future__ import annotations

import codecs
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from exportsite.conf import export_settings

MAX_DEPTH = 64

# JSON string literals, whose brackets do not nest. It matches at every quote, an unterminated
# string running to the end, and never backtracks (possessive): one linear pass, whatever the body.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (0 for a scalar), without recursing.
    For invalid JSON the number may be off; the parser refuses such a body anyway."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[char] for char in brackets), default=0)


def _text_encoding(parser_context: dict) -> str:
    """The request's charset, if it is a text encoding: a bytes-to-bytes codec (bz2_codec…)
    would decompress past DATA_UPLOAD_MAX_MEMORY_SIZE (as DRF's own get_encoding refuses)."""
    encoding = parser_context.get("encoding") or export_settings().default_charset
    try:
        "".encode(encoding)
    except (LookupError, UnicodeError):
        raise ParseError(f'Unsupported charset "{encoding}" in request Content-Type header.') from None
    return encoding


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSONParser (strict, same encodings) that refuses nesting deeper than MAX_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = _text_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeError, ValueError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # cannot happen below MAX_DEPTH; never let it out as a 500
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
