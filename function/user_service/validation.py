"""Pure checks of client input: each returns the clean value or raises a 4xx HttpError.

Nothing here touches the network or the environment, so tests call these directly.
Messages say what is wrong and how to fix it; they may quote the client's own input
back to it, which is why they never go into the logs.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata

from .responses import HttpError, bad_request, etag

MAX_BODY_BYTES = 16 * 1024
MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254  # the longest address SMTP can carry
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
WRITABLE_FIELDS = ("name", "email")
SERVER_FIELDS = ("id", "createdAt", "updatedAt", "version")

# Ids are what uuid.uuid4() prints; anything else cannot name a user we created.
_USER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
# Characters no name or email may hold, by Unicode general category, and why: controls
# (Cc) and line or paragraph separators (Zl, Zp: U+2028, U+2029) break log viewers and
# CSV exports; format characters (Cf: bidirectional overrides such as U+202E,
# zero-width characters, U+FEFF) are invisible and change what is displayed, so a name
# could pass for another; lone surrogates (Cs) are not Unicode text and cannot be
# stored as UTF-8.
_REFUSED_CATEGORIES = {
    "Cc": "control characters",
    "Cf": "invisible format characters, which change how text is displayed",
    "Zl": "line or paragraph separators",
    "Zp": "line or paragraph separators",
    "Cs": "lone surrogates, which are not valid Unicode",
}
# Code points that show nothing, or only blank space, yet are not in those categories, so
# a name made of them (or padded with them) would pass for another. Unicode's
# Default_Ignorable_Code_Point list (DerivedCoreProperties.txt, UAX #44; Python's
# unicodedata does not expose the property, so its ranges are written down here), less
# the variation selectors (FE00-FE0F, E0100-E01EF, Mongolian 180B-180D, 180F), which pick
# the glyph of the character before them, as in the emoji U+2764 U+FE0F; plus U+2800
# BRAILLE PATTERN BLANK, which renders as a space. Its Cf members are refused above already.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),    # SOFT HYPHEN (Cf)
    (0x034F, 0x034F),    # COMBINING GRAPHEME JOINER (Mn)
    (0x061C, 0x061C),    # ARABIC LETTER MARK (Cf)
    (0x115F, 0x1160),    # HANGUL CHOSEONG FILLER, JUNGSEONG FILLER (Lo)
    (0x17B4, 0x17B5),    # KHMER VOWEL INHERENT AQ, AA (Mn)
    (0x180E, 0x180E),    # MONGOLIAN VOWEL SEPARATOR (Cf)
    (0x200B, 0x200F),    # ZERO WIDTH SPACE .. RIGHT-TO-LEFT MARK (Cf)
    (0x202A, 0x202E),    # bidirectional embeddings and overrides (Cf)
    (0x2060, 0x206F),    # WORD JOINER .. NOMINAL DIGIT SHAPES, with reserved 2065 (Cf, Cn)
    (0x2800, 0x2800),    # BRAILLE PATTERN BLANK (So): a blank lookalike
    (0x3164, 0x3164),    # HANGUL FILLER (Lo)
    (0xFEFF, 0xFEFF),    # ZERO WIDTH NO-BREAK SPACE (Cf)
    (0xFFA0, 0xFFA0),    # HALFWIDTH HANGUL FILLER (Lo)
    (0xFFF0, 0xFFF8),    # reserved (Cn)
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT controls (Cf)
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM .. END PHRASE (Cf)
    (0xE0000, 0xE00FF),  # LANGUAGE TAG, tag characters, reserved (Cf, Cn)
    (0xE01F0, 0xE0FFF),  # reserved (Cn)
)
# One character class (compiled once per cold start, well under a millisecond).
_INVISIBLE = re.compile("[" + "".join(f"{re.escape(chr(first))}-{re.escape(chr(last))}"
                                      for first, last in _INVISIBLE_RANGES) + "]")
_INVISIBLE_WHAT = "invisible or blank characters, which make one name pass for another"
# Deliberately simple: one @, a dot-atom local part, and a dotted DNS domain.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_LIMIT = re.compile(r"[0-9]{1,3}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")
# RFC 9110 8.8.3: entity-tag = [ W/ ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
# 5.6.1: a list may hold empty elements; each further element follows a comma. Spaces
# belong to exactly one place (after a comma or a tag), so matching stays linear.
_ENTITY_TAG_LIST = re.compile(
    rf"[ \t]*(?:{_ENTITY_TAG}[ \t]*)?(?:,[ \t]*(?:{_ENTITY_TAG}[ \t]*)?)*")
_ENTITY_TAGS = re.compile(_ENTITY_TAG)
_EXAMPLE = '{"name": "Ada Lovelace", "email": "ada@example.com"}'


def _quote(text: str, limit: int = 40) -> str:
    """A short, JSON-quoted rendering of client input for an error message."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "...")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


# --- ids ------------------------------------------------------------------------------

def is_user_id(value: object) -> bool:
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


def validate_user_id(value: object) -> str:
    if not is_user_id(value):
        shown = _quote(value) if isinstance(value, str) else "nothing"
        raise bad_request(
            f"The user id {shown} is not valid: ids are lowercase UUIDs as returned by "
            "POST /users, e.g. 3f1c2a9e-8b7d-4c6e-9f00-1a2b3c4d5e6f."
        )
    return value


# --- request bodies -------------------------------------------------------------------

def check_content_type(value: str | None) -> None:
    """POST and PUT take JSON only (415 otherwise); the charset, if named, must be UTF-8."""
    fix = "Send the header Content-Type: application/json with a JSON body."
    if value is None:
        raise HttpError(415, f"The request has no Content-Type. {fix}")
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != "application/json":
        raise HttpError(415, f"Content-Type {_quote(media_type.strip())} is not supported. {fix}")
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise HttpError(415, "Only the UTF-8 charset is supported: send "
                                 "Content-Type: application/json; charset=utf-8.")


def decode_body(body: object, is_base64: bool) -> bytes:
    """The raw body bytes, with the 16 KB limit (413) checked before any decoding work."""
    if body is None or body == "":
        raise bad_request(f"The request has no body. Send a JSON object like {_EXAMPLE}.")
    if not isinstance(body, str):
        raise bad_request("The request body could not be read as text.")
    too_large = HttpError(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB; "
                               "a user needs far less: send only name and email.")
    if is_base64:
        # 4 base64 characters carry 3 bytes: anything longer cannot fit the limit.
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:
            raise too_large
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("The body is marked as base64-encoded but is not valid base64; "
                              "send the JSON as plain text or encode it correctly.") from None
    else:
        # Every character is at least one UTF-8 byte, so skip encoding huge bodies.
        if len(body) > MAX_BODY_BYTES:
            raise too_large
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise bad_request("The body is not valid UTF-8 text.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    return raw


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise bad_request(f"The field {_quote(key)} appears twice in the body; send it once.")
            seen.add(key)
    return result


def _no_constants(name: str) -> None:
    raise bad_request(f"{name} is not valid JSON; send numbers and strings only.")


def parse_json(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("The body is not valid UTF-8; encode the JSON as UTF-8.") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except HttpError:
        raise
    except RecursionError:
        raise bad_request("The body is nested too deeply; send a flat JSON object "
                          f"like {_EXAMPLE}.") from None
    except ValueError as err:  # JSONDecodeError, and ints too long to convert
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise bad_request(f"The body is not valid JSON{where}; send an object like {_EXAMPLE}.") from None


def _check_characters(field: str, value: str) -> None:
    """A 400 naming the first refused character: its code point and its position."""
    for position, char in enumerate(value, start=1):
        what = _REFUSED_CATEGORIES.get(unicodedata.category(char))
        if what is None and _INVISIBLE.match(char):
            what = _INVISIBLE_WHAT
        if what is not None:
            name = unicodedata.name(char, "")
            shown = f"U+{ord(char):04X}" + (f" {name}" if name else "")
            raise bad_request(f'"{field}" may not contain {what}: it has {shown} at '
                              f"character {position}. Remove it.")


def _check_text(field: str, value: object, max_chars: int) -> str:
    if not isinstance(value, str):
        raise bad_request(f'"{field}" must be a string, not {_type_name(value)}.')
    if len(value) > max_chars:  # first: it bounds the character check's work
        raise bad_request(f'"{field}" is {len(value)} characters long; '
                          f"the most allowed is {max_chars}.")
    _check_characters(field, value)
    return value


def validate_name(value: object) -> str:
    name = _check_text("name", value, MAX_NAME_CHARS).strip()
    if not name:
        raise bad_request('"name" must not be empty; send the user\'s name, e.g. "Ada Lovelace".')
    return name


def validate_email(value: object) -> str:
    email = _check_text("email", value, MAX_EMAIL_CHARS)
    local, _, _ = email.rpartition("@")
    if _EMAIL.fullmatch(email) is None or len(local) > 64:
        raise bad_request(f"{_quote(email)} is not a valid email address; "
                          "send one like ada@example.com.")
    return email


def validate_user_fields(payload: object) -> dict[str, str]:
    """The writable fields of a user (name, email): both required, nothing else allowed."""
    if not isinstance(payload, dict):
        raise bad_request(f"The body must be a JSON object, not {_type_name(payload)}; "
                          f"send one like {_EXAMPLE}.")
    server_set = [key for key in payload if key in SERVER_FIELDS]
    if server_set:
        raise bad_request(f"{', '.join(map(_quote, server_set))} cannot be set: id, createdAt, "
                          'updatedAt and version are set by the server. Send only "name" and "email".')
    unknown = [key for key in payload if key not in WRITABLE_FIELDS]
    if unknown:
        shown = ", ".join(map(_quote, unknown[:5])) + (" and more" if len(unknown) > 5 else "")
        raise bad_request(f'Unknown field(s) {shown}; a user has only "name" and "email".')
    missing = [field for field in WRITABLE_FIELDS if field not in payload]
    if missing:
        raise bad_request(f"Missing field(s): {', '.join(missing)}. "
                          f"Send both name and email, e.g. {_EXAMPLE}.")
    return {"name": validate_name(payload["name"]), "email": validate_email(payload["email"])}


# --- query strings --------------------------------------------------------------------

def single_param(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f'The query parameter "{name}" is given {len(values)} times; give it once.')
    return values[0]


def check_known_params(params: dict[str, list[str]], allowed: tuple[str, ...]) -> None:
    unknown = [name for name in params if name not in allowed]
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise bad_request(f"Unknown query parameter(s) {', '.join(map(_quote, unknown[:5]))}; "
                          f"this route accepts: {accepted}.")


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if _LIMIT.fullmatch(value) is None or not 1 <= int(value) <= MAX_LIMIT:
        raise bad_request(f"limit={_quote(value)} is not valid; give a whole number from 1 to "
                          f"{MAX_LIMIT} (default {DEFAULT_LIMIT}).")
    return int(value)


def encode_next_token(last_id: str) -> str:
    """The opaque page token: the last key of the page, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).rstrip(b"=").decode()


def decode_next_token(value: str | None) -> str | None:
    """The user id the next page starts after, or None for the first page."""
    if value is None:
        return None
    invalid = bad_request("nextToken is not valid; pass back exactly the nextToken of the "
                          "previous page, or leave it out to start from the first page.")
    if _TOKEN.fullmatch(value) is None:
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, RecursionError):
        raise invalid from None
    if not isinstance(key, dict) or list(key) != ["id"] or not is_user_id(key["id"]):
        raise invalid
    return key["id"]


# --- conditional requests -------------------------------------------------------------

ANY_VERSION = "*"


def parse_if_match(value: str | None) -> None | str | frozenset[str]:
    """None (no header), ANY_VERSION for `*`, or the entity tags the client listed.

    Only a header that is not `*` or a list of entity tags is a 400. A well-formed tag
    that is not the current one (someone else's, a weak one, an empty list) is a
    precondition that fails: 412, decided by if_match_allows.
    """
    if value is None:
        return None
    if value.strip(" \t") == "*":
        return ANY_VERSION
    if _ENTITY_TAG_LIST.fullmatch(value) is None:
        raise bad_request(
            f"If-Match {_quote(value)} is not * or a list of entity tags. Send If-Match with "
            'the ETag from the last response, e.g. If-Match: "3", or * to require only that '
            "the user exists.")
    # etagc excludes the double quote, so the tags found are exactly the list's elements.
    return frozenset(_ENTITY_TAGS.findall(value))


def if_match_allows(condition: None | str | frozenset[str], version: int) -> bool:
    """RFC 9110 13.1.1: strong comparison, so a weak tag never matches ours."""
    return condition is None or condition == ANY_VERSION or etag(version) in condition
