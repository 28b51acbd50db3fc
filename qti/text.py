"""The readable text of item XML and HTML: blocks on their own lines, runs of white space as one (as a browser)."""

from __future__ import annotations

import re

from lxml import etree

__all__ = ["BLOCK", "text_of"]

#: Elements that start a line of their own.
BLOCK = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre", "blockquote", "br", "table", "ul", "ol",
         "dt", "dd", "figure", "figcaption"}
SPACES = re.compile(r"\s+")


def text_of(node: etree._Element, skip: tuple[str, ...] = ()) -> str:
    """The readable text of an element: blocks on their own lines, runs of space as one."""
    parts: list[str] = []

    def walk(el: etree._Element) -> None:
        name = el.tag if isinstance(el.tag, str) else ""
        if name in skip:
            if el.tail:
                parts.append(SPACES.sub(" ", el.tail))
            return
        block = name in BLOCK
        if block:
            parts.append("\n")
        if el.text:
            parts.append(SPACES.sub(" ", el.text))
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        if el.tail:
            parts.append(SPACES.sub(" ", el.tail))

    if node.text:
        parts.append(SPACES.sub(" ", node.text))
    for child in node:
        walk(child)
    # Line breaks in the XML source are white space, as in HTML; lines come from blocks.
    lines = [line.strip() for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)
