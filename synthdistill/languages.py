"""Language codes (ISO 639-1, ISO 639-3, FLORES-200) to the names used in prompts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from synthdistill.errors import ConfigError

_FLORES = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")
_QUALIFIER = re.compile(r"\s*\((macrolanguage|individual language)\)$")


@dataclass(frozen=True)
class Language:
    code: str  # as the user wrote it
    iso639_3: str
    name: str
    script: str | None = None  # ISO 15924, known for FLORES-200 codes


@lru_cache(maxsize=512)
def resolve_language(code: str) -> Language:
    """Map `sw`, `swa` or `swh_Latn` to a Language; unknown codes raise ConfigError."""
    import pycountry  # adapter: the only user of pycountry

    script = None
    base = code.strip()
    match = _FLORES.match(base)
    if match:
        base, script = match.group(1), match.group(2)
    lookup = base.lower()
    record = None
    if len(lookup) == 2:
        record = pycountry.languages.get(alpha_2=lookup)
    elif len(lookup) == 3:
        record = pycountry.languages.get(alpha_3=lookup)
    if record is None:
        raise ConfigError(
            f"unknown language code {code!r}: use ISO 639-1 (sw), ISO 639-3 (swa) or FLORES-200 (swh_Latn)"
        )
    name = _QUALIFIER.sub("", record.name)
    return Language(code=code, iso639_3=record.alpha_3, name=name, script=script)


def same_language(a: Language, b: Language) -> bool:
    """One language under two codes (en, eng, eng_Latn); a script given by both must agree."""
    return a.iso639_3 == b.iso639_3 and (a.script is None or b.script is None or a.script == b.script)
