"""Noisy social-media text: the filters read a tweet's words, not its handles, links, hashtags and emoji; an
uncertain language is not called a wrong one; generation asks for tweets with @user and http as seed tweets
have them."""

import hashlib

import pytest

from synthdistill.data import Example
from synthdistill.generation.filters import deduplicate
from synthdistill.generation.language_id import check_language
from synthdistill.generation.social_text import social_text_kind, without_social_markup
from synthdistill.languages import resolve_language
from synthdistill.prompts import render


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("@user korrekt! Verstehe sowas nicht... http", "korrekt! Verstehe sowas nicht..."),
        ("RT @jane_doe: gol de Messi 🔥🔥 https://t.co/Ab12 #Barça", "RT : gol de Messi"),
        ("Nimefurahi sana 👍🏽 leo www.example.com/x #furaha", "Nimefurahi sana leo"),
        ("Bendera 🇹🇿 na familia 👨‍👩‍👧 &lt;3", "Bendera na familia <3"),
        ("email me at ana@example.com, price #1", "email me at ana@example.com, price"),
        ("جميل جدا @user http", "جميل جدا"),
    ],
)
def test_the_filters_read_the_words_without_handles_links_hashtags_and_emoji(text, words):
    assert without_social_markup(text) == words


def test_a_handle_heavy_tweet_is_judged_by_its_words():
    arabic = "@user @user_two @user3 جميل جدا هذا الفيلم http"  # the handles' Latin letters outnumber the Arabic
    assert check_language(arabic, resolve_language("ara")).reason == "ok"
    assert check_language("@user http 😀 #tbt", resolve_language("deu")).reason == "unchecked"  # nothing to judge


def test_an_uncertain_language_is_not_called_a_wrong_one():
    german = resolve_language("deu")
    uncertain = check_language("@user sketchy", german)
    assert not uncertain.ok and uncertain.reason.startswith("uncertain_language:")
    assert uncertain.reason == f"uncertain_language:{uncertain.probability:.2f}"
    wrong = check_language("The committee will publish its final report on the new budget next week.", german)
    assert wrong.reason == "wrong_language:en" and wrong.probability < 0.1
    for text in ("@user dresses!", "gnahh #dasistdochkeineuhrzeit", "Dear Don: Die Slow"):
        assert check_language(text, german).reason != "wrong_language:de"  # never names the target itself


def test_romanised_text_of_a_language_the_model_knows_in_its_own_script_is_checked_by_script():
    tweet = "@user yaar aaj match bahut accha tha, maza aa gaya"
    assert check_language(tweet, resolve_language("hin_Latn")).reason == "script_only"
    assert check_language(tweet, resolve_language("hin")).reason == "wrong_script:Latn"  # Devanagari expected


def test_replies_that_differ_only_in_handles_links_or_emoji_are_duplicates():
    samples = [Example("@anna Great match tonight, well played! 🔥", "sports", "en"),
               Example("@bob great match tonight, well played! http", "sports", "en"),
               Example("@carl Great match tonight, well played!! #derby", "sports", "en"),
               Example("@user @user", "sports", "en"), Example("@ana @ana", "sports", "en")]  # fmt: skip
    kept, dropped = deduplicate(samples, near_threshold=0.8)
    assert [e.text for e in kept] == [samples[0].text, samples[3].text, samples[4].text]  # no words: compared whole
    assert [d.reason for d in dropped] == ["duplicate", "near_duplicate"]


def test_generation_asks_for_tweets_with_user_and_http_and_leaves_other_prompts_as_they_were():
    variables = dict(language="Swahili", domain="news", label_kind="topic", label="sports", description="games",
                     attribute=None, taboo=[], demos=["Timu ilishinda.", "Mchezaji alifunga."],
                     demo_language="Swahili", n=3)  # fmt: skip
    assert social_text_kind("tweet") and social_text_kind("social media post") and not social_text_kind("sentence")
    for template in ("generate.completion.v2", "generate.chat.v2"):
        tweet = render(template, text_kind="tweet", social=True, **variables).text
        assert "@user" in tweet and "http" in tweet
        sentence = render(template, text_kind="sentence", social=False, **variables).text
        assert "@user" not in sentence
    # the sentence prompt is byte for byte what the template gave before tweets were asked for (its cache holds)
    sentence = render("generate.completion.v2", text_kind="sentence", social=False, **variables).text
    assert hashlib.sha256(sentence.encode()).hexdigest()[:16] == "7f79a805a8868c37"
