from synthdistill.data import Example
from synthdistill.filters import filter_samples


def ex(text: str, label: str = "a", language: str = "en") -> Example:
    return Example(text, label, language, {"sample_index": 0})


def reasons(dropped):
    return sorted((d.text, d.reason) for d in dropped)


def test_length_bounds():
    kept, dropped = filter_samples([ex("short"), ex("just right here"), ex("x" * 50)], min_chars=10, max_chars=40)
    assert [e.text for e in kept] == ["just right here"]
    assert reasons(dropped) == [("short", "too_short"), ("x" * 50, "too_long")]


def test_exact_duplicates_ignore_case_and_spaces_within_language():
    samples = [ex("The cat sat."), ex("the  cat SAT."), ex("The cat sat.", language="sw")]
    kept, dropped = filter_samples(samples, min_chars=1, max_chars=100)
    assert [(e.text, e.language) for e in kept] == [("The cat sat.", "en"), ("The cat sat.", "sw")]
    assert reasons(dropped) == [("the  cat SAT.", "duplicate")]


def test_text_made_for_two_labels_is_ambiguous_and_dropped_for_both():
    samples = [ex("Same text here", "a"), ex("Same text here", "b"), ex("Other text", "a")]
    kept, dropped = filter_samples(samples, min_chars=1, max_chars=100)
    assert [e.text for e in kept] == ["Other text"]
    assert [d.reason for d in dropped] == ["ambiguous", "ambiguous"]
    assert {d.label for d in dropped} == {"a", "b"}


def test_copies_of_seed_examples_are_dropped_and_keep_provenance():
    kept, dropped = filter_samples(
        [ex("A seed sentence.")], min_chars=1, max_chars=100, seed_texts=["a seed sentence."]
    )
    assert not kept
    assert dropped[0].reason == "copied_seed"
    assert dropped[0].to_dict()["sample_index"] == 0
