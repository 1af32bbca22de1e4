import pytest

from synthdistill.errors import ConfigError
from synthdistill.languages import resolve_language


@pytest.mark.parametrize("code", ["sw", "swa", "swh_Latn", "swh"])
def test_swahili_in_every_form(code):
    language = resolve_language(code)
    assert language.name == "Swahili"
    assert language.code == code


def test_flores_code_gives_script_and_names():
    assert resolve_language("tel_Telu").name == "Telugu"
    assert resolve_language("tel_Telu").script == "Telu"
    assert resolve_language("cy").name == "Welsh"
    assert resolve_language("ind_Latn").iso639_3 == "ind"


@pytest.mark.parametrize("code", ["xx", "zzz_Latn", "english", ""])
def test_unknown_codes_raise(code):
    with pytest.raises(ConfigError, match="unknown language code"):
        resolve_language(code)
