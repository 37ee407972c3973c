"""Reports a person reads: the search report of a run directory (``hpsearch report``).

:class:`Document` builds one report as Markdown and as a self-contained HTML page from the same
blocks (headings, paragraphs, tables, images), so neither needs a Markdown library; the data
inspection report (:mod:`hpsearch.inspection.report`) uses it too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:left}img{max-width:100%;margin:0.5em 0}code{background:#f4f4f4}"
)


def cell(value: Any, digits: int = 4) -> str:
    """A table cell: floats rounded, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


@dataclass
class Document:
    """Blocks of a report, rendered to Markdown and HTML alike."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(("bullets", list(items)))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", ([str(h) for h in headers], [list(r) for r in rows])))

    def image(self, path: str, caption: str) -> None:
        """``path`` relative to the report's folder."""
        self.blocks.append(("image", (path, caption)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += ["#" * value[0] + " " + value[1], ""]
            elif kind == "paragraph":
                out += [value, ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                headers, rows = value
                out.append("| " + " | ".join(h.replace("|", "\\|") for h in headers) + " |")
                out.append("|" + "---|" * len(headers))
                for row in rows:
                    out.append("| " + " | ".join(cell(c).replace("|", "\\|") for c in row) + " |")
                out.append("")
            elif kind == "image":
                out += [f"![{value[1]}]({value[0]})", ""]
        return "\n".join(out)

    def html(self) -> str:
        esc = html.escape
        out = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>{esc(self.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{esc(value[1])}</h{value[0]}>")
            elif kind == "paragraph":
                out.append(f"<p>{_inline(value)}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                headers, rows = value
                head = "".join(f"<th>{esc(h)}</th>" for h in headers)
                body = "".join(
                    "<tr>" + "".join(f"<td>{_inline(cell(c))}</td>" for c in row) + "</tr>"
                    for row in rows
                )
                out.append(f"<table><tr>{head}</tr>{body}</table>")
            elif kind == "image":
                out.append(
                    f"<figure><img src='{esc(value[0])}' alt='{esc(value[1])}'>"
                    f"<figcaption>{esc(value[1])}</figcaption></figure>"
                )
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, folder: Path, stem: str = "report") -> tuple[Path, Path]:
        """Write ``stem.md`` and ``stem.html`` into ``folder``; return both paths."""
        folder.mkdir(parents=True, exist_ok=True)
        md, page = folder / f"{stem}.md", folder / f"{stem}.html"
        md.write_text(self.markdown(), encoding="utf-8")
        page.write_text(self.html(), encoding="utf-8")
        return md, page


def _inline(text: str) -> str:
    """HTML-escape, then turn Markdown's `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
