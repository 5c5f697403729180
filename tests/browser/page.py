"""Reading a rendered report.html from Python: its inline style and script, their CSP hashes, its embedded data."""

from __future__ import annotations

import base64
import hashlib
import json
import re

CSP_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


def inline_blocks(html, tag):
    """The text of every <tag>...</tag> without attributes (the inline style and the executable script)."""
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)


def csp_hash(text):
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def csp_directives(html):
    match = CSP_META.search(html)
    if not match:
        return {}
    directives = {}
    for directive in match.group(1).split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def embedded_json(html, element_id):
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.DOTALL)
    assert match, f"no <script type=application/json id={element_id}> in the page"
    return match.group(1)


def embedded_data(html):
    """The data the page parses: the packed JSON with every codebook character restored (as the page does)."""
    codebook = json.loads(embedded_json(html, "report-codebook"))
    text = re.sub(
        "[\u0100-\u01ff]", lambda token: codebook[ord(token.group()) - 0x100], embedded_json(html, "report-data")
    )
    return json.loads(text)
