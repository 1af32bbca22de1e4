"""Is a text in the language it should be? py3langid where it knows the language, a script check otherwise.

Only this module imports py3langid. Languages it lacks and whose script is unknown are not checked, and
the dataset card says so: a sample is never dropped on a guess.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthdistill.generation.social_text import without_social_markup
from synthdistill.languages import Language

CONFIDENT = 0.5  # the least probability at which another language counts as identified

# ISO 15924 code -> the first word of Unicode character names in that script
_SCRIPT_NAMES = {
    "Latn": ("LATIN",), "Cyrl": ("CYRILLIC",), "Arab": ("ARABIC",), "Deva": ("DEVANAGARI",),
    "Telu": ("TELUGU",), "Ethi": ("ETHIOPIC",), "Hebr": ("HEBREW",), "Thai": ("THAI",),
    "Hans": ("CJK",), "Hant": ("CJK",), "Jpan": ("CJK", "HIRAGANA", "KATAKANA"), "Hang": ("HANGUL",),
    "Grek": ("GREEK",), "Beng": ("BENGALI",), "Taml": ("TAMIL",), "Geor": ("GEORGIAN",),
    "Armn": ("ARMENIAN",), "Knda": ("KANNADA",), "Mlym": ("MALAYALAM",), "Gujr": ("GUJARATI",),
    "Guru": ("GURMUKHI",), "Orya": ("ORIYA",), "Khmr": ("KHMER",), "Mymr": ("MYANMAR",),
    "Sinh": ("SINHALA",), "Tibt": ("TIBETAN",), "Laoo": ("LAO",), "Olck": ("OL",), "Tfng": ("TIFINAGH",),
}  # fmt: skip

# Scripts of languages whose code does not carry one (FLORES-200 codes do), for the script check
_DEFAULT_SCRIPTS = {
    "amh": "Ethi", "tir": "Ethi", "ara": "Arab", "arb": "Arab", "fas": "Arab", "urd": "Arab", "pus": "Arab",
    "heb": "Hebr", "yid": "Hebr", "hin": "Deva", "mar": "Deva", "nep": "Deva", "npi": "Deva", "tel": "Telu",
    "tam": "Taml", "kan": "Knda", "mal": "Mlym", "ben": "Beng", "asm": "Beng", "guj": "Gujr", "pan": "Guru",
    "ori": "Orya", "ory": "Orya", "tha": "Thai", "lao": "Laoo", "khm": "Khmr", "mya": "Mymr", "sin": "Sinh",
    "bod": "Tibt", "kat": "Geor", "hye": "Armn", "ell": "Grek", "rus": "Cyrl", "ukr": "Cyrl", "bel": "Cyrl",
    "bul": "Cyrl", "mkd": "Cyrl", "kaz": "Cyrl", "kir": "Cyrl", "tgk": "Cyrl", "mon": "Cyrl", "zho": "Hans",
    "jpn": "Jpan", "kor": "Hang",
}  # fmt: skip

# Individual languages (as in FLORES-200 codes) -> the macrolanguage code that py3langid knows
_MACROLANGUAGE = {
    "swh": "sw", "azj": "az", "azb": "az", "arb": "ar", "zsm": "ms", "npi": "ne", "ory": "or", "pes": "fa",
    "prs": "fa", "khk": "mn", "uzn": "uz", "plt": "mg", "lvs": "lv", "ekk": "et", "als": "sq", "gaz": "om",
    "quy": "qu", "pbt": "ps", "kmr": "ku", "cmn": "zh", "nob": "no", "nno": "nn", "ydd": "yi",
}  # fmt: skip


@dataclass(frozen=True)
class LanguageCheck:
    ok: bool
    # ok, script_only (no model for the language in its script), unchecked (no letters), wrong_script:Cyrl,
    # wrong_language:xx (sure of another language), uncertain_language:0.04 (sure of none)
    reason: str
    probability: float | None = None  # py3langid's probability of the target language, where it was asked


def expected_script(language: Language) -> str:
    """The ISO 15924 script a language is written in; Latin unless the code or the table says otherwise."""
    return language.script or _DEFAULT_SCRIPTS.get(language.iso639_3, "Latn")


def dominant_script(text: str) -> str | None:
    """The script of most letters in the text, as an ISO 15924 code, or None when there are no letters."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        first_word = unicodedata.name(char, "UNKNOWN").split(" ")[0]
        for code, names in _SCRIPT_NAMES.items():
            if first_word in names:
                counts[code] = counts.get(code, 0) + 1
                break
    return max(counts, key=counts.__getitem__) if counts else None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def _langid_code(language: Language) -> str | None:
    """The code py3langid uses for a language (ISO 639-1 mostly), or None when it lacks the language, or the
    language is romanised (`hin_Latn`: py3langid's Hindi is Devanagari)."""
    import pycountry

    if language.script == "Latn" and _DEFAULT_SCRIPTS.get(language.iso639_3, "Latn") != "Latn":
        return None  # a language written in Latin letters that the model knows only in its own script

    classes = set(_identifier().nb_classes)
    record = pycountry.languages.get(alpha_3=language.iso639_3)
    candidates = (getattr(record, "alpha_2", None), language.iso639_3, _MACROLANGUAGE.get(language.iso639_3))
    for code in candidates:
        if code in classes:
            return code
    return None


def is_identifiable(language: Language) -> bool:
    return _langid_code(language) is not None


def check_language(text: str, language: Language, min_probability: float = 0.1) -> LanguageCheck:
    """Keep a text whose target-language probability is at least `min_probability` and whose script fits,
    judged on its words only (without handles, links, hashtags and emoji: social_text.py).

    0.1 keeps every human test sentence of SIB-200 in 14 languages tried (en id sw cy yo te ha sk az jv ig
    he sl ro), while a sentence in another language scores near 0. Below the floor, the reason is
    `wrong_language:xx` only when the model is sure of another language xx (at least CONFIDENT); otherwise
    `uncertain_language:p`, with p the target language's probability.
    """
    words = without_social_markup(text)
    script = expected_script(language)
    found = dominant_script(words)
    if found is None:  # nothing but handles, links, emoji or digits: nothing to judge
        return LanguageCheck(True, "unchecked")
    if found != script and not (script == "Jpan" and found == "Hans"):
        return LanguageCheck(False, f"wrong_script:{found}")
    code = _langid_code(language)
    if code is None:
        return LanguageCheck(True, "script_only")
    ranking = dict(_identifier().rank(words))
    probability = float(ranking.get(code, 0.0))
    if probability >= min_probability:
        return LanguageCheck(True, "ok", probability)
    detected = max(ranking, key=ranking.__getitem__)
    if detected == code or ranking[detected] < CONFIDENT:
        return LanguageCheck(False, f"uncertain_language:{probability:.2f}", probability)
    return LanguageCheck(False, f"wrong_language:{detected}", probability)
