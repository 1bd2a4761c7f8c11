"""A document's own classification: sensitivity labels, document properties, PDF info, front matter.

Read in the parse child next to the parser, so a hostile file stays inside the sandbox. Every
read is bounded (part sizes, key count, value length) and XML goes through defusedxml. Any
failure means "no metadata" — the file is still ingested and labelled from its path alone.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_KEYS = 64
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 512
MAX_PART_BYTES = 1 << 20  # one XML part of a zip container, after decompression
MAX_FRONT_MATTER_BYTES = 64 << 10

OOXML = frozenset({".docx", ".xlsx", ".pptx"})
ODF = frozenset({".odt"})
MARKDOWN = frozenset({".md", ".markdown"})
# Core properties a site classifies with (docProps/core.xml, lower-cased local names).
CORE_PROPERTIES = frozenset({"title", "subject", "keywords", "category", "contentstatus"})
ODF_PROPERTIES = frozenset({"title", "subject", "keyword", "description"})

Pair = tuple[str, str]
# Purview / AIP label properties: MSIP_Label_<guid>_Name, _Enabled, _SiteId, _Method, ...
_MSIP = re.compile(r"msip_label_\{?([0-9a-f-]{36})\}?_(\w+)", re.IGNORECASE)


def read_metadata(path: Path) -> tuple[dict[str, str], str | None]:
    """(the document's properties, why they could not be read — None when nothing went wrong).

    Keys are lower-case; `sensitivity` holds the names of the applied Purview labels and
    `sensitivity_id` their GUIDs ("; "-separated when several). Never raises.
    """
    suffix = Path(path).suffix.lower()
    try:
        if suffix in OOXML:
            pairs = _ooxml(Path(path))
        elif suffix in ODF:
            pairs = _odf(Path(path))
        elif suffix == ".pdf":
            pairs = _pdf(Path(path))
        elif suffix in MARKDOWN:
            pairs = _front_matter(Path(path))
        else:
            return {}, None
        return bounded(pairs), None
    except Exception as exc:  # noqa: BLE001  a hostile or odd file: no metadata, never a failed file
        return {}, f"{type(exc).__name__}: {str(exc)[:200]}".rstrip(": ")


def bounded(pairs: Iterable[Pair]) -> dict[str, str]:
    """Lower-case keys, whitespace-collapsed values, first value per key wins, at most MAX_KEYS keys."""
    out: dict[str, str] = {}
    for key, value in _with_sensitivity(pairs):
        name = key.strip().lstrip("/").lower()[:MAX_KEY_CHARS]
        text = " ".join(str(value).split())[:MAX_VALUE_CHARS]
        if not name or not text or name in out:
            continue
        out[name] = text
        if len(out) >= MAX_KEYS:
            break
    return out


def _with_sensitivity(pairs: Iterable[Pair]) -> list[Pair]:
    """Fold MSIP_Label_* properties (and LabelInfo ids) into `sensitivity` and `sensitivity_id`, first."""
    labels: dict[str, dict[str, str]] = {}
    rest: list[Pair] = []
    for key, value in pairs:
        found = _MSIP.fullmatch(key.strip().lstrip("/"))
        if found:
            labels.setdefault(found[1].lower(), {})[found[2].lower()] = str(value)
        else:
            rest.append((key, value))
    # A label explicitly switched off (_Enabled false / LabelInfo enabled="0" or removed) is not applied.
    applied = {g: f for g, f in labels.items() if f.get("enabled", "true").strip().lower() not in ("false", "0")}
    head: list[Pair] = []
    names = [f["name"] for f in applied.values() if f.get("name", "").strip()]
    if names:
        head.append(("sensitivity", "; ".join(names)))
    if applied:
        head.append(("sensitivity_id", "; ".join(applied)))
    return head + rest


def _ooxml(path: Path) -> list[Pair]:
    """Core and custom properties, and the label ids in docMetadata/LabelInfo.xml (Office 2021+)."""
    with zipfile.ZipFile(path) as zf:
        parts = {info.filename.lower(): info for info in zf.infolist()}
        pairs: list[Pair] = []
        custom = _xml_part(zf, parts, "docprops/custom.xml")
        if custom is not None:
            pairs += _custom_properties(custom)
        info = _xml_part(zf, parts, "docmetadata/labelinfo.xml")
        if info is not None:
            pairs += _label_info(info)
        core = _xml_part(zf, parts, "docprops/core.xml")
        if core is not None:
            pairs += [(name, value) for name, value in _children(core) if name in CORE_PROPERTIES]
    return pairs


def _odf(path: Path) -> list[Pair]:
    """OpenDocument meta.xml: title, subject, keywords, description and user-defined fields."""
    with zipfile.ZipFile(path) as zf:
        root = _xml_part(zf, {i.filename.lower(): i for i in zf.infolist()}, "meta.xml")
    if root is None:
        return []
    pairs: list[Pair] = []
    keywords: list[str] = []
    for el in root.iter():
        name = _local(el.tag).lower()
        if name == "keyword":
            keywords.append(_text(el))
        elif name == "user-defined":
            field = next((v for k, v in el.attrib.items() if _local(k) == "name"), "")
            pairs.append((field, _text(el)))
        elif name in ODF_PROPERTIES:
            pairs.append((name, _text(el)))
    if keywords:
        pairs.append(("keywords", "; ".join(k for k in keywords if k)))
    return pairs


def _pdf(path: Path) -> list[Pair]:
    """The document information dictionary (/Keywords, /Subject, custom keys such as /Classification)."""
    from pypdf import PdfReader

    info = PdfReader(str(path)).metadata
    if not info:
        return []
    pairs: list[Pair] = []
    for key in list(info.keys())[: MAX_KEYS * 4]:
        value = info[key]  # item access resolves an indirect reference; .get() would not
        if isinstance(value, str):  # text and names; byte strings and dictionaries are not properties
            pairs.append((str(key), str(value)))
    return pairs


def _front_matter(path: Path) -> list[Pair]:
    """YAML between a first line `---` and the next `---` (or `...`), scalars and lists of scalars."""
    import yaml

    with open(path, "rb") as f:
        head = f.read(MAX_FRONT_MATTER_BYTES).decode("utf-8-sig", errors="replace")
    lines = head.splitlines()
    if not lines or lines[0].rstrip() != "---":
        return []
    end = next((i for i, line in enumerate(lines[1:], 1) if line.rstrip() in ("---", "...")), None)
    if end is None:
        return []
    data = yaml.safe_load("\n".join(lines[1:end]))
    if not isinstance(data, dict):
        return []
    pairs: list[Pair] = []
    for key, value in data.items():
        items = value if isinstance(value, list) else [value]
        if items and all(_is_scalar(v) for v in items):
            pairs.append((str(key), "; ".join(_scalar_text(v) for v in items)))
    return pairs


def _xml_part(zf: zipfile.ZipFile, parts: dict[str, zipfile.ZipInfo], name: str) -> Any:
    """A zip member parsed with defusedxml, refusing one larger than MAX_PART_BYTES (declared or actual)."""
    from defusedxml import ElementTree

    info = parts.get(name)
    if info is None:
        return None
    if info.file_size > MAX_PART_BYTES:
        raise ValueError(f"{info.filename} declares {info.file_size:,} bytes (limit {MAX_PART_BYTES:,})")
    with zf.open(info) as member:
        data = member.read(MAX_PART_BYTES + 1)
    if len(data) > MAX_PART_BYTES:
        raise ValueError(f"{info.filename} unpacks past {MAX_PART_BYTES:,} bytes")
    return ElementTree.fromstring(data)


def _custom_properties(root: Any) -> list[Pair]:
    """docProps/custom.xml: <property name="..."><vt:lpwstr>value</vt:lpwstr></property>."""
    pairs = []
    for prop in root:
        if _local(prop.tag) == "property" and prop.get("name"):
            pairs.append((prop.get("name"), "; ".join(t for t in (_text(v) for v in prop) if t)))
    return pairs


def _label_info(root: Any) -> list[Pair]:
    """docMetadata/LabelInfo.xml (MS-OFFCRYPTO 2.6.4.4): label ids only; the names live in the tenant."""
    pairs: list[Pair] = []
    for el in root.iter():
        if _local(el.tag) != "label" or not el.get("id"):
            continue
        guid = el.get("id").strip("{}").lower()
        on = el.get("enabled", "").lower() in ("1", "true") and el.get("removed", "").lower() not in ("1", "true")
        pairs.append((f"MSIP_Label_{guid}_Enabled", "true" if on else "false"))
    return pairs


def _children(root: Any) -> list[Pair]:
    return [(_local(el.tag).lower(), _text(el)) for el in root]


def _text(el: Any) -> str:
    return " ".join(t.strip() for t in el.itertext() if t.strip())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _is_scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, dict | list | set)


def _scalar_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
