"""Find secrets in texts and files, also when they are encoded.

Usage::

    from tests.integration.secret_scan import assert_no_secrets, find_secrets, playbook_sources

    hits = find_secrets({"client secret": secret}, texts={"stdout": run.stdout}, paths=[run.files_dir])
    assert_no_secrets(secrets, **playbook_sources(run))   # fails listing every hit, without showing the secret

Each secret is searched for as it is and in the forms it takes when it is written somewhere by other means:
base64 (standard and URL-safe, at any byte offset inside a larger encoded value), URL encoding (percent-encoding
with upper- or lower-case hex, ``+`` for spaces), JSON and Python string escaping, and shell quoting. Files are read
as bytes (so binary files are covered) and zip archives are searched member by member. Data that is compressed in
any other way, or encrypted, is not inspected.

Hits are reported with the secret's label and the form found, never with the secret itself, so that a failing test
does not leak it into CI logs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import zipfile
from urllib.parse import quote, quote_plus

# Shorter values would match by accident (and are not secrets worth the name).
MIN_SECRET_LENGTH = 8
# An encoded fragment shorter than this is not evidence of a leak.
MIN_FRAGMENT_LENGTH = 8
CONTEXT = 40


class Hit:
    """One occurrence of a secret: which secret (label), in which form, where (source, line) and around what."""

    def __init__(self, label, form, source, line, context):
        self.label = label
        self.form = form
        self.source = source
        self.line = line
        self.context = context

    def __repr__(self):
        return f"Hit({self.label!r}, form={self.form!r}, source={self.source!r}, line={self.line})"

    def __str__(self):
        return f"{self.source}:{self.line}: secret {self.label!r} as {self.form}: ...{self.context}..."


def _percent_lower(encoded):
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), encoded)


def _base64_fragments(secret_bytes):
    """Substrings that every base64 encoding of data containing the secret must contain.

    Base64 works on 3-byte groups, so the encoding of the secret depends on its offset (mod 3) in the data. For each
    offset, encode it behind filler bytes and keep only the characters that depend on the secret alone: whole groups.
    """
    fragments = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret_bytes).decode("ascii")
        start = 4 if offset else 0
        # The last group is only complete (independent of what follows) when the data ends on a group boundary.
        end = len(encoded) - (4 if (offset + len(secret_bytes)) % 3 else 0)
        fragment = encoded[start:end]
        if len(fragment) >= MIN_FRAGMENT_LENGTH:
            fragments.append((f"base64 (offset {offset})", fragment))
            urlsafe = fragment.replace("+", "-").replace("/", "_")
            if urlsafe != fragment:
                fragments.append((f"base64url (offset {offset})", urlsafe))
    return fragments


def secret_forms(secret):
    """{form name: text} of every form the secret is looked for in; identical texts are listed once."""
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"a secret to scan for must be a string of at least {MIN_SECRET_LENGTH} characters")
    candidates = [
        ("raw", secret),
        ("url-encoded", quote(secret, safe="")),
        ("url-encoded (lower-case hex)", _percent_lower(quote(secret, safe=""))),
        ("url-encoded (path)", quote(secret)),
        ("form-encoded", quote_plus(secret, safe="")),
        ("form-encoded (lower-case hex)", _percent_lower(quote_plus(secret, safe=""))),
        ("json-escaped", json.dumps(secret)[1:-1]),
        ("json-escaped (unicode)", json.dumps(secret, ensure_ascii=False)[1:-1]),
        ("json-escaped twice", json.dumps(json.dumps(secret))[3:-3]),
        ("python repr", repr(secret)[1:-1]),
        ("shell-quoted", shlex.quote(secret)),
    ]
    candidates.extend(_base64_fragments(secret.encode("utf-8")))
    forms = {}
    seen = set()
    for name, text in candidates:
        if text and text not in seen and len(text) >= MIN_FRAGMENT_LENGTH:
            seen.add(text)
            forms[name] = text
    return forms


def _normalize_secrets(secrets):
    """Accept {label: value} or an iterable of values (labelled secret-1, secret-2, ...)."""
    if isinstance(secrets, dict):
        items = list(secrets.items())
    else:
        items = [(f"secret-{index}", value) for index, value in enumerate(secrets, 1)]
    return [(label, secret_forms(value)) for label, value in items]


def _masked_context(data, start, length, label):
    before = data[max(0, start - CONTEXT) : start]
    after = data[start + length : start + length + CONTEXT]
    text = before + b"<" + label.encode("utf-8", "replace") + b">" + after
    return text.decode("utf-8", "replace").replace("\n", "\\n")


def _scan_bytes(data, source, secrets):
    hits = []
    for label, forms in secrets:
        for form, text in forms.items():
            needle = text.encode("utf-8")
            start = data.find(needle)
            while start >= 0:
                line = data.count(b"\n", 0, start) + 1
                hits.append(Hit(label, form, source, line, _masked_context(data, start, len(needle), label)))
                start = data.find(needle, start + 1)
    return hits


def _scan_patterns(data, source, patterns):
    hits = []
    for label, pattern in patterns.items():
        regex = re.compile(pattern.encode("utf-8") if isinstance(pattern, str) else pattern)
        for match in regex.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            context = _masked_context(data, match.start(), match.end() - match.start(), label)
            hits.append(Hit(label, "pattern", source, line, context))
    return hits


def _files(path, excluded):
    """Regular files under path (or path itself), except the excluded ones; links are not followed out of the tree."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isfile(path):
        if path not in excluded:
            yield path
        return
    for directory, _dirs, names in os.walk(path):
        for name in sorted(names):
            full = os.path.join(directory, name)
            if full not in excluded and os.path.isfile(full) and not os.path.islink(full):
                yield full


def _file_blobs(path):
    """(source name, bytes) of the file, plus one per member when it is a zip archive."""
    with open(path, "rb") as handle:
        data = handle.read()
    yield path, data
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.is_dir():
                    yield f"{path}!{member.filename}", archive.read(member)


def find_secrets(secrets, texts=None, paths=(), patterns=None, exclude=()):
    """Every occurrence of any secret (in any form) in the texts and in the files under the paths.

    ``secrets``: {label: value} or an iterable of values. ``texts``: {name: str} or an iterable of str.
    ``paths``: files or directories, searched recursively. ``patterns``: optional {label: regex} for secrets whose
    values are not known but whose shape is (for example the access tokens a server issued). ``exclude``: files not
    to read, such as a test's own input files that hold the secrets on purpose.
    """
    excluded = {os.path.abspath(os.fspath(path)) for path in exclude}
    normalized = _normalize_secrets(secrets)
    patterns = patterns or {}
    if texts is None:
        texts = {}
    if not isinstance(texts, dict):
        texts = {f"text-{index}": text for index, text in enumerate(texts, 1)}
    blobs = [(name, text.encode("utf-8", "surrogateescape")) for name, text in texts.items()]
    missing = [os.fspath(path) for path in paths if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(f"paths to scan do not exist: {missing}")
    for path in paths:
        for file_path in _files(path, excluded):
            blobs.extend(_file_blobs(file_path))
    hits = []
    for source, data in blobs:
        hits.extend(_scan_bytes(data, source, normalized))
        hits.extend(_scan_patterns(data, source, patterns))
    return hits


def assert_no_secrets(secrets, texts=None, paths=(), patterns=None, exclude=()):
    """Fail with every hit listed (the secrets themselves masked) if any secret occurs anywhere."""
    hits = find_secrets(secrets, texts=texts, paths=paths, patterns=patterns, exclude=exclude)
    if hits:
        listing = "\n".join(str(hit) for hit in hits[:50])
        more = f"\n... and {len(hits) - 50} more" if len(hits) > 50 else ""
        raise AssertionError(f"{len(hits)} secret occurrence(s) found:\n{listing}{more}")


def playbook_sources(run, extra_paths=()):
    """texts=, paths= and exclude= covering a PlaybookRun (tests/integration/conftest.py).

    That is its stdout, stderr and task results, and every file of its directory (Ansible's local temporary
    directory and home are in there, as is the result log) except its inputs, the playbook and the inventory, which
    hold credentials on purpose. ``extra_paths`` adds directories such as a remote_tmp.
    """
    return {
        "texts": {
            "stdout": run.stdout,
            "stderr": run.stderr,
            "results": json.dumps(run.results, ensure_ascii=False),
        },
        "paths": [run.files_dir, *extra_paths],
        "exclude": [os.path.join(run.files_dir, "playbook.yml"), os.path.join(run.files_dir, "inventory")],
    }
