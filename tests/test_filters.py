from synthdistill.config import FilterSpec, parse_config
from synthdistill.data import DroppedSample, Example
from synthdistill.generation.filters import deduplicate, filter_samples, teacher_check, truncation_explained
from synthdistill.generation.repetition import is_repetitive
from synthdistill.teachers.teacher import Teacher
from tests.conftest import tiny_config_dict

SPEC = FilterSpec(min_chars=1, max_chars=200, language_id=False, near_duplicate_threshold=None)


def ex(text: str, label: str = "a", language: str = "en") -> Example:
    return Example(text, label, language, {"sample_index": 0})


def reasons(dropped):
    return sorted((d.text, d.reason) for d in dropped)


def test_length_bounds():
    spec = SPEC.model_copy(update={"min_chars": 10, "max_chars": 40})
    kept, dropped = filter_samples([ex("short"), ex("just right here"), ex("x" * 50)], spec)
    assert [e.text for e in kept] == ["just right here"]
    assert reasons(dropped) == [("short", "too_short"), ("x" * 50, "too_long")]


def test_exact_duplicates_ignore_case_and_spaces_within_language():
    samples = [ex("The cat sat."), ex("the  cat SAT."), ex("The cat sat.", language="sw")]
    kept, dropped = filter_samples(samples, SPEC)
    assert [(e.text, e.language) for e in kept] == [("The cat sat.", "en"), ("The cat sat.", "sw")]
    assert reasons(dropped) == [("the  cat SAT.", "duplicate")]


def test_text_made_for_two_labels_is_ambiguous_and_dropped_for_both():
    samples = [ex("Same text here", "a"), ex("Same text here", "b"), ex("Other text", "a")]
    kept, dropped = filter_samples(samples, SPEC)
    assert [e.text for e in kept] == ["Other text"]
    assert [d.reason for d in dropped] == ["ambiguous", "ambiguous"]
    assert {d.label for d in dropped} == {"a", "b"}


def test_near_duplicates_within_and_across_labels():
    samples = [
        ex("The team won the football match in the final minute of the game.", "sports"),
        ex("The team won the football match in the final minute of the game!", "sports"),
        ex("Parliament passed the new budget law after a long debate yesterday.", "politics"),
        ex("Parliament passed the new budget law after a long debate yesterday!!", "sports"),
        ex("A completely different sentence about the weather in the mountains.", "sports"),
    ]
    kept, dropped = deduplicate(samples, near_threshold=0.8)
    assert [e.text for e in kept] == [samples[0].text, samples[4].text]
    assert reasons(dropped) == sorted(
        [(samples[1].text, "near_duplicate"), (samples[2].text, "ambiguous"), (samples[3].text, "ambiguous")]
    )
    kept_exact, _ = deduplicate(samples, near_threshold=None)
    assert len(kept_exact) == 5


def test_copies_of_seed_examples_are_dropped_and_keep_provenance():
    kept, dropped = filter_samples([ex("A seed sentence.")], SPEC, seed_texts=["a seed sentence."])
    assert not kept
    assert dropped[0].reason == "copied_seed"
    assert dropped[0].to_dict()["sample_index"] == 0


def test_language_id_drops_wrong_language_and_script():
    spec = SPEC.model_copy(update={"language_id": True})
    samples = [
        ex("Timu ilishinda mechi ya fainali jana usiku baada ya dakika za nyongeza.", language="swh_Latn"),
        ex("The team won the final last night after extra time was played.", language="swh_Latn"),
        ex("Команда выиграла финал вчера вечером после дополнительного времени.", language="sw"),
        ex("Tim itu memenangkan pertandingan final tadi malam setelah perpanjangan waktu.", language="id"),
    ]
    kept, dropped = filter_samples(samples, spec)
    assert [e.text for e in kept] == [samples[0].text, samples[3].text]
    assert reasons(dropped) == sorted([(samples[1].text, "wrong_language:en"), (samples[2].text, "wrong_script:Cyrl")])


def test_teacher_check_keeps_only_agreement_and_never_relabels(fake_backend):
    config = parse_config({**tiny_config_dict(), "filters": {"teacher_check": True, "teacher_check_shots": 0}})
    samples = [
        ex("The team won the cup game.", "sports"),
        ex("The team scored in the match.", "politics"),  # the fake teacher calls this sports
        ex("The minister resigned.", "politics"),
    ]
    kept, dropped = teacher_check(
        config.task, config.teacher.prompt_mode, Teacher(fake_backend, progress=False), samples, {}, shots=0, seed=0
    )
    assert [(e.text, e.label) for e in kept] == [(samples[0].text, "sports"), (samples[2].text, "politics")]
    assert [(d.label, d.reason) for d in dropped] == [("politics", "teacher_check:sports")]


LOOP = "Ina mtazamo, " + "2011, " * 30  # a cut answer of the embedded teacher in Swahili
PROSE = "Timu ya taifa ilishinda mechi ya fainali kwa mabao mawili dhidi ya moja jana jioni mjini Mombasa."
THAI = "นักวิทยาศาสตร์ค้นพบดาวเคราะห์ดวงใหม่ที่อยู่ห่างจากโลกประมาณสี่สิบปีแสงในกลุ่มดาวกลุ่มหนึ่ง"


def test_repetition_loops_are_dropped_and_a_loop_cut_by_max_tokens_is_no_truncation():
    spec = SPEC.model_copy(update={"max_chars": 400})
    kept, dropped = filter_samples([ex(LOOP), ex(PROSE), ex(THAI), ex("na na na na")], spec)
    assert [e.text for e in kept] == [PROSE, THAI, "na na na na"]  # prose in any script; too short to judge
    assert reasons(dropped) == [(LOOP, "repetitive")]
    cut = [DroppedSample(LOOP, "sw", "a", "truncated"), DroppedSample(PROSE[:60], "sw", "a", "truncated")]
    assert [d.reason for d in truncation_explained(cut, spec)] == ["repetitive", "truncated"]
    off = spec.model_copy(update={"min_distinct_share": None})
    assert [d.reason for d in truncation_explained(cut, off)] == ["truncated", "truncated"]
    assert len(filter_samples([ex(LOOP)], off)[0]) == 1


RAMBLE = (  # rambling prose past max_chars, no loop
    "Timu ya taifa ilishinda mechi ya fainali kwa mabao mawili dhidi ya moja jana jioni mjini Mombasa. "
    "Mashabiki walijaa uwanjani tangu asubuhi, wakiimba na kupeperusha bendera za rangi nyingi. "
    "Kocha alisema wachezaji walijiandaa kwa wiki tatu katika kambi ya mazoezi iliyoko milimani. "
    "Nahodha aliongeza kwamba ushindi huu ni zawadi kwa familia zao na kwa wananchi wote wa pwani. "
    "Serikali ya kaunti imeahidi kujenga uwanja mpya wenye taa za kisasa kabla ya msimu ujao kuanza."
)


def test_an_answer_cut_after_max_chars_is_too_long_not_truncated():
    """A larger token budget would only have let the length filter drop the whole answer."""
    spec = SPEC.model_copy(update={"max_chars": 400})
    assert len(RAMBLE) > 400 and not is_repetitive(RAMBLE, spec.min_distinct_share)
    cut = [DroppedSample(RAMBLE, "sw", "a", "truncated"), DroppedSample(RAMBLE[:390], "sw", "a", "truncated")]
    assert [d.reason for d in truncation_explained(cut, spec)] == ["too_long", "truncated"]
    longer = spec.model_copy(update={"max_chars": 2000})
    assert [d.reason for d in truncation_explained(cut, longer)] == ["truncated", "truncated"]
