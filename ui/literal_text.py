"""User text (file names above all) shown exactly as typed in Streamlit's markdown elements.

st.caption, st.error, st.info, st.write and the rest render markdown: a file named `# Heading.png`
becomes a heading, `1986. A good year.png` a list, `a&lt;b&gt;.png` decoded entities, a name holding
https://… a link. `literal_text` makes any text inert there. It changes only what markdown would
read: backslashes before punctuation, no-break spaces where spaces would be lost, and an invisible
word joiner (U+2060) inside what GFM would turn into a link.
"""

from __future__ import annotations

import re
import string

# CommonMark lets a backslash escape any ASCII punctuation character, and an escaped character never
# starts markdown, an entity, a link, an autolink, LaTeX ($), a colour (:red[…]) or an emoji (:x:).
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
# Markdown drops leading and trailing spaces, folds runs of them and reads four leading ones as code:
# those become no-break spaces (single spaces between words stay, so long names still wrap).
_KEPT_SPACES = re.compile(r"^\s+|\s+$|\s{2,}|[^\S ]")
# GFM finds URLs (scheme://, www.) and e-mail addresses in the text after escapes are resolved, so
# escaping cannot stop them: a word joiner after each ":" and before each "@" and "." of "www." does.
_LINK_STARTS = re.compile(r"(\\:)|(\\@)|(?i:(www)(?=\\\.))")
WORD_JOINER = "\u2060"


def literal_text(text: str) -> str:
    """`text` escaped so that markdown shows every character of it as typed: no heading, list, entity or link.

    For example "# Heading.png" becomes "\\# Heading\\.png", which st.caption shows as # Heading.png.
    """
    escaped = _PUNCTUATION.sub(r"\\\1", str(text))
    escaped = _LINK_STARTS.sub(_break_link, escaped)
    return _KEPT_SPACES.sub(lambda spaces: "\u00a0" * len(spaces.group()), escaped)


def _break_link(match: re.Match) -> str:
    colon, at, www = match.groups()
    if colon:
        return colon + WORD_JOINER
    if at:
        return WORD_JOINER + at
    return www + WORD_JOINER
