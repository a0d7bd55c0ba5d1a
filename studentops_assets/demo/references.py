"""A student's reference-manager exports dropped into the inbox: BibTeX and RIS.

Both cover the DOIs cited in the student's reading notes plus a few more each (not the same few), so
the two files share most entries and de-duplication by DOI has work to do. The BibTeX uses what real exports contain: @string
macros, a crossref to a @proceedings entry, LaTeX accents, protected capitals. The RIS has
non-ASCII author names and a multi-line abstract.
"""

from __future__ import annotations

import re

from .papers import BY_KEY, PROCEEDINGS, Paper

# Macros defined in the file header when one of its entries uses the journal.
_MACROS = {
    "Nature": "nature",
    "Science": "science",
    "Communications of the ACM": "cacm",
    "Econometrica": "ecta",
    "Journal of the Royal Statistical Society: Series B (Methodological)": "jrssb",
}
# Always exported next to the reading-note papers: a crossref'd KDD paper, accents (ü, é, Ł), Science.
BIB_EXTRAS = ("akiba2019optuna", "hochreiter1997long", "bottou2010largescale", "karpicke2008critical",
              "vaswani2017attention")
RIS_EXTRAS = ("vaswani2017attention", "hochreiter1997long", "dunlosky2013improving", "cepeda2006distributed",
              "karpicke2008critical")

_LATEX = {
    "ü": '{\\"u}', "ö": '{\\"o}', "ä": '{\\"a}', "Ü": '{\\"U}', "é": "\\'{e}", "è": "\\`{e}", "á": "\\'{a}",
    "ó": "\\'{o}", "í": "\\'{\\i}", "ñ": "\\~{n}", "ç": "\\c{c}", "ğ": "\\u{g}", "ł": "{\\l}", "Ł": "{\\L}",
    "ø": "{\\o}", "å": "{\\aa}", "ß": "{\\ss}", "–": "--", "—": "---", "&": "\\&", "%": "\\%", "_": "\\_",
    "#": "\\#",
}


def latex(text: str) -> str:
    text = re.sub(r'"([^"]+)"', r"``\1''", text)
    return "".join(_LATEX.get(ch, ch) for ch in text)


def _protect(title: str) -> str:
    # Words with inner capitals (XGBoost, NumPy, DNA) keep their case in any bibliography style.
    return re.sub(r"\b([A-Za-z]*[A-Z][A-Za-z]*[A-Z][A-Za-z]*)\b", r"{\1}", title)


def _bib_authors(paper: Paper) -> str:
    names = []
    for family, given in paper.authors:
        if not given:
            names.append("{" + latex(family) + "}")  # a corporate author must not be split into names
        else:
            names.append(f"{latex(family)}, {latex(given)}")
    if paper.more_authors:
        names.append("others")
    return " and ".join(names)


def _field(name: str, value: str) -> str:
    return f"  {name:<9} = {value},"


def bib_entry(paper: Paper) -> str:
    kind = {"article": "article", "inproceedings": "inproceedings", "preprint": "misc"}[paper.kind]
    lines = [f"@{kind}{{{paper.key},",
             _field("author", "{" + _bib_authors(paper) + "}"),
             _field("title", "{" + _protect(latex(paper.title)) + "}")]
    if paper.kind == "article":
        macro = _MACROS.get(paper.venue)
        lines.append(_field("journal", macro if macro else "{" + latex(paper.venue) + "}"))
    if paper.kind == "preprint":
        lines += [_field("eprint", "{" + paper.doi.split("arXiv.", 1)[-1] + "}"),
                  _field("archiveprefix", "{arXiv}"), _field("primaryclass", "{cs.CL}")]
    if paper.kind != "inproceedings":
        lines.append(_field("year", str(paper.year)))
    for name, value in (("volume", paper.volume), ("number", paper.number), ("pages", paper.pages)):
        if value:
            lines.append(_field(name, "{" + value + "}"))
    lines.append(_field("doi", "{" + paper.doi + "}"))
    if paper.proceedings:
        lines.append(_field("crossref", "{" + paper.proceedings + "}"))
    lines.append("}")
    return "\n".join(lines)


def bibtex(owner: str, keys: list[str], exported: str) -> str:
    papers = [BY_KEY[k] for k in dict.fromkeys([*keys, *BIB_EXTRAS])]
    used_macros = sorted({_MACROS[p.venue] for p in papers if p.kind == "article" and p.venue in _MACROS})
    macro_names = {v: k for k, v in _MACROS.items()}
    out = [f"% Exported from a reference manager for {owner}, {exported}.", "% Encoding: UTF-8", ""]
    out += [f'@string{{{m} = "{latex(macro_names[m])}"}}' for m in used_macros]
    out.append("")
    proceedings = []
    for paper in papers:
        out += [bib_entry(paper), ""]
        if paper.proceedings and paper.proceedings not in proceedings:
            proceedings.append(paper.proceedings)
    # BibTeX resolves a crossref only when the target comes after every entry that refers to it.
    for key in proceedings:
        p = PROCEEDINGS[key]
        out += [f"@proceedings{{{p.key},",
                _field("title", "{" + latex(p.title) + "}"),
                _field("booktitle", "{" + latex(p.title) + "}"),
                _field("year", str(p.year)),
                _field("publisher", "{" + latex(p.publisher) + "}"),
                _field("address", "{" + latex(p.address) + "}"),
                "}", ""]
    return "\n".join(out)


def _ris_line(tag: str, value: str) -> str:
    return f"{tag}  - {value}"


def ris(keys: list[str], notes_by_key: dict[str, str]) -> str:
    papers = [BY_KEY[k] for k in dict.fromkeys([*keys, *RIS_EXTRAS])]
    out = []
    for paper in papers:
        kind = {"article": "JOUR", "inproceedings": "CONF", "preprint": "GEN"}[paper.kind]
        out.append(_ris_line("TY", kind))
        for family, given in paper.authors:
            out.append(_ris_line("AU", f"{family}, {given}" if given else family))
        out.append(_ris_line("TI", paper.title))
        out.append(_ris_line("PY", str(paper.year)))
        if paper.kind == "inproceedings":
            out.append(_ris_line("T2", PROCEEDINGS[paper.proceedings].title))
        else:
            out.append(_ris_line("JO", paper.venue))
        if paper.volume:
            out.append(_ris_line("VL", paper.volume))
        if paper.number:
            out.append(_ris_line("IS", paper.number))
        if paper.pages:
            first, _, last = paper.pages.partition("--")
            out.append(_ris_line("SP", first))
            if last:
                out.append(_ris_line("EP", last))
        out.append(_ris_line("DO", paper.doi))
        out.append(_ris_line("UR", f"https://doi.org/{paper.doi}"))
        # A two-line abstract: exporters wrap long fields onto untagged continuation lines.
        abstract = paper.summary
        if paper.key in notes_by_key:
            abstract += f"\nRead for {notes_by_key[paper.key]}; see the reading note [[{paper.key}]]."
        else:
            abstract += "\nSaved from the course reading list; not yet summarised."
        out.append(_ris_line("AB", abstract))
        out.append(_ris_line("ER", ""))
        out.append("")
    return "\n".join(out)
