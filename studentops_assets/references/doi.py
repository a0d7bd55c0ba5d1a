"""DOIs as reference managers write them, reduced to the one form the warehouse joins on.

The normal form is the notes domain's (`normalise_doi`): lowercase, no `https://doi.org/` or `doi:`
prefix, no trailing punctuation. DOIs are case-insensitive by definition (DOI Handbook 2.4), so
lowercasing loses nothing.

`normalise_doi` finds a DOI inside running text, so it stops at a closing parenthesis (a markdown
link's end). A DOI *field* holds exactly one DOI, and parentheses are legal in DOIs and common in
older ones (Elsevier's `10.1016/S0140-6736(97)11096-0`, Wiley's `10.1002/(SICI)...`): when the whole
value is one DOI it is kept whole; anything else goes through `normalise_doi`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from studentops_assets.notes.vault_reader import normalise_doi

__all__ = ["doi_from_field", "doi_from_url", "normalise_doi", "unescape_verbatim"]

# TeX escapes exporters put into verbatim fields: Mendeley writes 10.1007/978-3-662-46803-6{\_}26.
_TEX_ESCAPE = re.compile(r"\\([_%&#$~])")
_RESOLVER_PREFIX = re.compile(r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_WHOLE_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def unescape_verbatim(value: str) -> str:
    """A URL or DOI field without TeX escaping and grouping braces."""
    return _TEX_ESCAPE.sub(r"\1", value).replace("{", "").replace("}", "").strip()


def doi_from_field(value: str | None) -> str | None:
    """A DOI field's value in normal form; None when it holds no DOI."""
    if not value:
        return None
    text = _RESOLVER_PREFIX.sub("", unescape_verbatim(value)).strip()
    if _WHOLE_DOI.match(text):
        return text.rstrip(".,;:'").lower()
    return normalise_doi(text)


def doi_from_url(url: str) -> str | None:
    """The DOI of a doi.org / dx.doi.org link, None for any other URL."""
    parts = urlsplit(url.strip())
    if parts.hostname not in ("doi.org", "dx.doi.org", "www.doi.org"):
        return None
    return doi_from_field(unquote(parts.path.lstrip("/")))
