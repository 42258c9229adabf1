"""User text (file names above all) shown exactly as typed in Streamlit's markdown elements.

st.caption, st.error, st.info, st.write and the rest render markdown: a file named `# Heading.png`
becomes a heading, `1986. A good year.png` a list, `a&lt;b&gt;.png` decoded entities, a name holding
https://… a link. `literal_text` makes any text inert there.
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


def literal_text(text: str) -> str:
    """`text` escaped so that markdown shows every character of it as typed: no heading, list, entity or link.

    For example "# Heading.png" becomes "\\# Heading\\.png", which st.caption shows as # Heading.png.
    """
    escaped = _PUNCTUATION.sub(r"\\\1", str(text))
    return _KEPT_SPACES.sub(lambda spaces: "\u00a0" * len(spaces.group()), escaped)
