"""What a filter should read of a social-media text: its words, without user handles, links, hashtags and emoji.

`@user`, `http://t.co/x` and `#caveman` are not in any language, and a language-ID model scoring them beside a
short tweet's few words names the wrong language (a handle-heavy Arabic tweet came out as Latin script); two
replies that differ only in the handle they answer are the same text. The sample itself is never changed: the
filters look at `without_social_markup(text)`.
"""

from __future__ import annotations

import html
import re
import unicodedata

# a handle, a link (XLM-T writes each as a bare "http"), a hashtag: up to the next white space
_MARKUP = re.compile(r"(?<!\w)@\w+|\bhttps?:?/*\S*|\bwww\.\S+|(?<!\w)#\w+", re.UNICODE)
# joiners and selectors that emoji sequences are built with
_EMOJI_PARTS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


def _is_emoji(char: str) -> bool:
    """Pictographs, symbols and the skin-tone modifiers; letters, digits and punctuation are kept."""
    return char in _EMOJI_PARTS or unicodedata.category(char) in ("So", "Sk") or "\U0001f1e6" <= char <= "\U0001f1ff"


def without_social_markup(text: str) -> str:
    """The text with handles, links, hashtags and emoji taken out, HTML entities decoded (`&lt;3`, as scraped
    tweets carry them) and white space collapsed."""
    stripped = _MARKUP.sub(" ", html.unescape(text))
    stripped = "".join(" " if _is_emoji(char) else char for char in stripped)
    return " ".join(stripped.split())


def social_text_kind(text_kind: str) -> bool:
    """Whether examples called `text_kind` are social-media posts (a tweet, a post, a comment, a reply)."""
    words = set(re.findall(r"\w+", text_kind.casefold()))
    return bool(words & {"tweet", "tweets", "post", "posts", "toot", "comment", "comments", "reply", "replies",
                         "status", "message", "messages"})  # fmt: skip
