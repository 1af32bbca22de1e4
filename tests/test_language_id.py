import pytest

from synthdistill.generation.language_id import check_language, dominant_script, expected_script, is_identifiable
from synthdistill.languages import resolve_language


@pytest.mark.parametrize(
    ("text", "code", "reason"),
    [
        ("Timu ilishinda mechi ya fainali jana usiku.", "swh_Latn", "ok"),
        ("Timu ilishinda mechi ya fainali jana usiku.", "sw", "ok"),
        ("The team won the final last night.", "swh_Latn", "wrong_language:en"),
        ("జట్టు నిన్న రాత్రి ఫైనల్ గెలిచింది.", "te", "ok"),
        ("The team won the final.", "tel_Telu", "wrong_script:Latn"),
        ("Enillodd y tîm y gêm derfynol neithiwr.", "cy", "ok"),
        ("Timu ilishinda mechi ya fainali.", "bem", "script_only"),  # Bemba: no model, script checked
        ("12345 !!!", "bem", "unchecked"),
    ],
)
def test_check_language(text, code, reason):
    result = check_language(text, resolve_language(code))
    assert result.reason == reason
    assert result.ok == (reason in ("ok", "script_only", "unchecked"))


def test_scripts():
    assert dominant_script("Hello мир мир") == "Cyrl"
    assert dominant_script("123") is None
    assert expected_script(resolve_language("heb_Hebr")) == "Hebr"
    assert expected_script(resolve_language("he")) == "Hebr"
    assert expected_script(resolve_language("yo")) == "Latn"
    assert is_identifiable(resolve_language("azj_Latn")) and not is_identifiable(resolve_language("bem"))
