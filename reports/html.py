"""Markup helpers of the HTML run report (reports/html_report.py, html_evaluation.py)."""
import base64
import html
from typing import Iterable, Optional, Sequence


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def fmt(value, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def cell(value, key: Optional[str] = None, digits: int = 4) -> str:
    """A table cell; `key` marks values tests check against ML Metadata."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    attributes = (' class="num"' if numeric else "") + (f' data-key="{esc(key)}"' if key
                                                        else "")
    return f"<td{attributes}>{esc(fmt(value, digits))}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows are lists of ready-made <td> strings (see `cell`)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def para(text: str, css: str = "") -> str:
    return f'<p class="{css}">{text}</p>' if css else f"<p>{text}</p>"


def section(key: str, title: str, parts: Iterable[str]) -> str:
    return f'<section id="{key}"><h2>{esc(title)}</h2>{"".join(parts)}</section>'
