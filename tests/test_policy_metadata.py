"""Labels from a document's own classification: extraction per format, rule matching and validation,
the manifest column, and a live install that ingests, retrieves as users and relabels."""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from enclave.settings import Settings
from ingest.docmeta import MAX_KEYS, MAX_VALUE_CHARS, read_metadata
from policies.engine import labels_for
from policies.errors import PolicyInvalid
from policies.explain import explain
from policies.load import load_policy, parse_policy
from tests.corpus import write_docx, write_markdown, write_pdf, write_pptx, write_xlsx
from tests.sync_support import install_home

HC_GUID = "f42aa342-8706-4288-bd11-ebb85995028c"  # "Highly Confidential" in the site's tenant
OLD_GUID = "87867195-f2b8-4ac2-b0b6-6bb73cb33afc"  # a label switched off (_Enabled false)
SITE = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CUSTOM_CT = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"

# -- building real files with properties --------------------------------------------------------


def custom_xml(props: dict[str, str]) -> str:
    """docProps/custom.xml as Office writes it."""
    body = "".join(
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{i}" name="{name}"><vt:lpwstr>{value}</vt:lpwstr></property>'
        for i, (name, value) in enumerate(props.items(), 2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        f'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">{body}</Properties>'
    )


def msip(guid: str, name: str, enabled: bool = True) -> dict[str, str]:
    """The custom properties Purview / AIP writes for one sensitivity label."""
    p = f"MSIP_Label_{guid}_"
    return {p + "Enabled": "true" if enabled else "false", p + "SetDate": "2026-10-01T09:00:00Z", p + "Method": "Privileged",
            p + "Name": name, p + "SiteId": SITE, p + "ActionId": "0b3a5a0e-9b0f-4a5e-8e0e-3f7e1c2d4b5a", p + "ContentBits": "0"}


def add_parts(path: Path, parts: dict[str, str | bytes], related: dict[str, tuple[str, str]] | None = None) -> Path:
    """Rewrite an OOXML package with extra parts; `related` names (content type, relationship type) for each."""
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist() if i.filename not in parts]
    rewritten = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            for part, (ctype, rtype) in (related or {}).items():
                if name == "[Content_Types].xml":
                    data = data.replace(b"</Types>", f'<Override PartName="/{part}" ContentType="{ctype}"/></Types>'.encode())
                if name == "_rels/.rels":
                    rid = f"rIdTest{abs(hash(part)) % 10_000}"
                    data = data.replace(b"</Relationships>", f'<Relationship Id="{rid}" Type="{rtype}" Target="{part}"/></Relationships>'.encode())
            zout.writestr(name, data)
        for name, data in parts.items():
            zout.writestr(name, data)
    rewritten.replace(path)
    return path


def with_custom(path: Path, props: dict[str, str]) -> Path:
    """An OOXML file carrying `props` in docProps/custom.xml, related the way Office relates it."""
    return add_parts(path, {"docProps/custom.xml": custom_xml(props)}, {"docProps/custom.xml": (CUSTOM_CT, CUSTOM_REL)})


def labelled_docx(path: Path, title: str, text: str, label: str = "Highly Confidential") -> Path:
    """A Word document with a Purview sensitivity label (and an old, switched-off one)."""
    write_docx(path, title, [text])
    return with_custom(path, msip(HC_GUID, label) | msip(OLD_GUID, "Public", enabled=False))


# -- extraction, per format ---------------------------------------------------------------------


def test_a_purview_label_and_core_properties_are_read_from_a_docx(tmp_path: Path) -> None:
    import docx

    path = write_docx(tmp_path / "minutes.docx", "Board minutes", ["The board met."])
    document = docx.Document(str(path))
    document.core_properties.category = "Board papers"
    document.core_properties.keywords = "acquisition; Riverside"
    document.core_properties.subject = "Q3 board meeting"
    document.core_properties.content_status = "Final"
    document.save(str(path))
    with_custom(path, msip(HC_GUID, "Highly Confidential") | msip(OLD_GUID, "Public", enabled=False) | {"Classification": "Board"})
    metadata, problem = read_metadata(path)
    assert problem is None
    assert metadata["sensitivity"] == "Highly Confidential"  # the switched-off "Public" label is not applied
    assert metadata["sensitivity_id"] == HC_GUID
    assert not any(k.startswith("msip_") for k in metadata)  # folded into sensitivity, not 14 raw keys
    assert metadata["classification"] == "Board"
    assert (metadata["category"], metadata["keywords"], metadata["subject"], metadata["contentstatus"]) == (
        "Board papers", "acquisition; Riverside", "Q3 board meeting", "Final")


def test_office_2021_label_info_gives_the_label_id_of_an_xlsx_and_core_properties_of_a_pptx(tmp_path: Path) -> None:
    import openpyxl
    from pptx import Presentation

    book = write_xlsx(tmp_path / "payroll.xlsx", [["name", "salary"], ["Ada", 5100]])
    label_info = (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
        '<clp:labelList xmlns:clp="http://schemas.microsoft.com/office/2020/mipLabelMetadata">'
        f'<clp:label id="{{{HC_GUID.upper()}}}" enabled="1" method="Privileged" siteId="{{{SITE}}}" removed="0"/>'
        f'<clp:label id="{{{OLD_GUID}}}" enabled="0" method="Standard" siteId="{{{SITE}}}" removed="1"/>'
        "</clp:labelList>"
    )
    add_parts(book, {"docMetadata/LabelInfo.xml": label_info})
    wb = openpyxl.load_workbook(book)  # the package still opens in its own library
    assert wb.active["A2"].value == "Ada"
    metadata, problem = read_metadata(book)
    assert problem is None and metadata["sensitivity_id"] == HC_GUID and "sensitivity" not in metadata

    deck_path = write_pptx(tmp_path / "deck.pptx", "Strategy", "Close two wards")
    deck = Presentation(str(deck_path))
    deck.core_properties.category = "Restricted"
    deck.core_properties.keywords = "strategy, wards"
    deck.save(str(deck_path))
    metadata, problem = read_metadata(deck_path)
    assert problem is None and metadata["category"] == "Restricted" and metadata["keywords"] == "strategy, wards"


def test_pdf_document_info_is_read_including_custom_keys_and_purview_labels(tmp_path: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    path = write_pdf(tmp_path / "trial.pdf", ["Interim results of trial 42."])
    writer = PdfWriter(clone_from=str(path))
    writer.add_metadata({
        "/Keywords": "oncology; Trial-42", "/Subject": "Interim analysis",
        f"/MSIP_Label_{HC_GUID}_Name": "Highly Confidential", f"/MSIP_Label_{HC_GUID}_Enabled": "true",
    })
    # Some producers store info values as indirect objects; they must be resolved, not skipped.
    writer._info.get_object()[NameObject("/Classification")] = writer._add_object(TextStringObject("Restricted"))
    with open(path, "wb") as f:
        writer.write(f)
    metadata, problem = read_metadata(path)
    assert problem is None
    assert metadata["keywords"] == "oncology; Trial-42" and metadata["subject"] == "Interim analysis"
    assert metadata["classification"] == "Restricted" and metadata["sensitivity"] == "Highly Confidential"


def test_markdown_front_matter_and_odt_meta_are_read(tmp_path: Path) -> None:
    md = tmp_path / "note.md"
    md.write_text("---\nclassification: Restricted\nTags: [hr, grievance]\nreviewed: true\nnested: {a: 1}\n---\n# Note\n\nText.\n")
    metadata, problem = read_metadata(md)
    assert problem is None
    assert metadata == {"classification": "Restricted", "tags": "hr; grievance", "reviewed": "true"}
    assert read_metadata(write_markdown(tmp_path / "plain.md", "Plain", ["No front matter."])) == ({}, None)

    odt = tmp_path / "memo.odt"
    with zipfile.ZipFile(odt, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("meta.xml", (
            '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<office:meta><dc:subject>Memo</dc:subject><meta:keyword>legal</meta:keyword><meta:keyword>hold</meta:keyword>"
            '<meta:user-defined meta:name="Classification">Privileged</meta:user-defined></office:meta></office:document-meta>'))
    metadata, problem = read_metadata(odt)
    assert problem is None and metadata == {"subject": "Memo", "classification": "Privileged", "keywords": "legal; hold"}


def test_metadata_is_bounded_and_the_sensitivity_label_survives_the_key_cap(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "many.docx", "Many", ["x"])
    props = {"Long": "y" * 5000} | {f"Prop{i:03d}": f"value {i}" for i in range(200)} | msip(HC_GUID, "Highly Confidential")
    with_custom(path, props)
    metadata, problem = read_metadata(path)
    assert problem is None and len(metadata) == MAX_KEYS
    assert metadata["sensitivity"] == "Highly Confidential"
    assert len(metadata["long"]) == MAX_VALUE_CHARS


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"><property name="x">&c;</property></Properties>'
)


@pytest.mark.parametrize("case", ["entities", "oversized_part", "malformed_xml", "not_a_zip", "bad_front_matter", "garbage_pdf"])
def test_unreadable_metadata_means_no_metadata_never_an_exception(tmp_path: Path, case: str) -> None:
    if case == "garbage_pdf":
        path = tmp_path / "x.pdf"
        path.write_bytes(b"%PDF-1.7\n" + os.urandom(2000) + b"\n%%EOF\n")
    elif case == "bad_front_matter":
        path = tmp_path / "x.md"
        path.write_text("---\nclassification: [unclosed\n---\n# Title\n")
    elif case == "not_a_zip":
        path = tmp_path / "x.docx"
        path.write_text("this is not a zip container")
    else:
        path = write_docx(tmp_path / "x.docx", "X", ["x"])
        part = {"entities": BILLION_LAUGHS, "oversized_part": " " * (2 << 20) + "<x/>",
                "malformed_xml": custom_xml(msip(HC_GUID, "Highly Confidential"))[:-40]}[case]
        add_parts(path, {"docProps/custom.xml": part})
    metadata, problem = read_metadata(path)
    assert metadata == {} and problem


# -- matching semantics (pure) --------------------------------------------------------------------

RULES = parse_policy({"labels": [
    {"match": "**", "labels": ["internal"]},
    {"metadata": {"Sensitivity": "Highly Confidential"}, "labels": ["restricted"]},
    {"match": "*/finance/**", "metadata": {"classification": "payroll"}, "labels": ["hr-confidential"]},
    {"metadata": {"keywords": ["trial-42", "trial-43"], "subject": "interim analysis"}, "labels": ["research"]},
]}, version="t")


def test_metadata_rules_compare_case_insensitively_and_need_every_listed_property() -> None:
    assert labels_for(RULES, "s/a.docx") == ("internal",)  # no metadata: path rules only
    assert labels_for(RULES, "s/a.docx", {"sensitivity": "highly  CONFIDENTIAL "}) == ("internal", "restricted")
    assert labels_for(RULES, "s/a.docx", {"sensitivity": "Confidential"}) == ("internal",)  # exact, not a substring
    assert labels_for(RULES, "s/a.docx", {"sensitivity": "Public; Highly Confidential"}) == ("internal", "restricted")
    # glob and metadata together: both must hold
    assert labels_for(RULES, "s/finance/p.xlsx", {"classification": "Payroll"}) == ("hr-confidential", "internal")
    assert labels_for(RULES, "s/hr/p.xlsx", {"classification": "payroll"}) == ("internal",)
    assert labels_for(RULES, "s/finance/p.xlsx", {"classification": "payroll; other"}) == ("internal",)  # not a list property
    # a keywords list matches when any keyword equals one of the rule's values; every key must match
    assert "research" in labels_for(RULES, "s/r.pdf", {"keywords": "oncology, Trial-43", "subject": "Interim Analysis"})
    assert "research" not in labels_for(RULES, "s/r.pdf", {"keywords": "oncology, Trial-43"})
    assert "research" not in labels_for(RULES, "s/r.pdf", {"keywords": "trial-4", "subject": "interim analysis"})


def test_explain_names_the_path_and_metadata_rules_and_a_pending_apply() -> None:
    hospital = load_policy(Path(__file__).resolve().parents[1] / "policies" / "examples" / "hospital")
    meta = {"sensitivity": "Highly Confidential"}
    labels = labels_for(hospital, "share/board/plan.docx", meta)
    assert labels == ("board", "highly-confidential", "internal")
    docs = [("share/board/plan.docx", labels), ("share/finance/q3.xlsx", ("finance", "internal")), ("share/old.md", ("internal",))]
    result = explain(hospital, "fin.eli", docs,
                     {"share/board/plan.docx": meta, "share/finance/q3.xlsx": {"classification": "payroll"}, "share/old.md": None})
    text = "\n".join(result.lines())
    assert result.unread == ["share/old.md"] and "never recorded" in text.split("share/old.md")[1]
    assert 'DENY  share/board/plan.docx' in text and 'sensitivity="Highly Confidential" -> highly-confidential' in text
    assert 'path "*/finance/**" + classification="payroll" -> hr-confidential' in text
    assert result.pending["share/finance/q3.xlsx"] == ("finance", "hr-confidential", "internal")
    assert "share/board/plan.docx" not in result.pending
    assert may_read_as(hospital, "ceo.hana", labels) and may_read_as(hospital, "dpo.jo", ("highly-confidential", "internal"))


def may_read_as(policy: Any, user: str, labels: tuple[str, ...]) -> bool:
    from policies.engine import may_read, principal_for

    return may_read(policy, principal_for(policy, user), labels).allowed


# -- validation -----------------------------------------------------------------------------------

HEAD = "groups: {a: {}}\nlabels:\n"
BAD_RULES = {
    "neither_match_nor_metadata": ("  - {labels: [x]}\n", 3, "needs 'match' (a path glob such as 'hr/**') or 'metadata'"),
    "metadata_not_a_mapping": ("  - {metadata: Highly Confidential, labels: [x]}\n", 3, "labels[0].metadata must be a mapping"),
    "empty_metadata": ("  - {metadata: {}, labels: [x]}\n", 3, "labels[0].metadata must be a mapping"),
    "misspelt_key": ("  - {match: '**', labels: [x]}\n  - {metdata: {a: b}, labels: [x]}\n", 4, "labels[1]: unknown key 'metdata'"),
    "nested_value": ("  - metadata:\n      sensitivity: {name: x}\n    labels: [x]\n", 4, "every value must be non-empty text"),
    "null_value": ("  - metadata:\n      sensitivity:\n    labels: [x]\n", 4, "every value must be non-empty text"),
    "unquoted_bool": ("  - {metadata: {approved: yes}, labels: [x]}\n", 3, "quote 'yes'"),
    "empty_value_list": ("  - {metadata: {sensitivity: []}, labels: [x]}\n", 3, "needs a value or a non-empty list"),
    "case_duplicate": ("  - metadata:\n      Sensitivity: a\n      sensitivity: b\n    labels: [x]\n", 5, "names ignore case"),
    "empty_match": ("  - {match: '', metadata: {a: b}, labels: [x]}\n", 3, "labels[0].match must be a path glob"),
    "no_labels": ("  - {metadata: {a: b}}\n", 3, "non-empty 'labels'"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_a_malformed_metadata_rule_is_rejected_with_line_and_reason(tmp_path: Path, case: str) -> None:
    text, line, reason = BAD_RULES[case]
    (tmp_path / "policy.yaml").write_text(HEAD + text)
    with pytest.raises(PolicyInvalid) as info:
        load_policy(tmp_path)
    assert f"policy.yaml:{line}:" in str(info.value) and reason in str(info.value), str(info.value)


def test_valid_metadata_rules_load(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(HEAD + (
        "  - {metadata: {Sensitivity: 'Highly Confidential'}, labels: [x]}\n"
        "  - {match: '*/finance/**', metadata: {classification: [payroll, 'yes'], level: 3}, labels: [x]}\n"))
    rules = load_policy(tmp_path).label_rules
    assert rules[0].match is None and rules[0].metadata == (("sensitivity", ("Highly Confidential",)),)
    assert rules[1].metadata == (("classification", ("payroll", "yes")), ("level", ("3",)))


# -- manifest ------------------------------------------------------------------------------------

OLD_SCHEMA = """CREATE TABLE documents (source TEXT PRIMARY KEY, doc_id TEXT NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, error_code TEXT,
    error TEXT, chunk_ids TEXT NOT NULL, pages INTEGER, title TEXT, labels TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE pending (source TEXT PRIMARY KEY, doc_id TEXT NOT NULL, new_ids TEXT NOT NULL, record TEXT);"""


def test_a_manifest_from_before_metadata_is_migrated_in_place(tmp_path: Path) -> None:
    from dataclasses import replace

    from ingest.manifest import Manifest
    from ingest.relabel import relabel

    path = tmp_path / "manifest.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    old_row = ("s/a.docx", "d1", "/x/a.docx", "abc", 10, 20, "ingested", None, None, '["c1", "c2"]', 1, "A", '["internal"]', "t0")
    db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", old_row)
    old_record = {"source": "s/b.md", "doc_id": "d2", "path": "/x/b.md", "sha256": "def", "size": 1, "mtime_ns": 2,
                  "status": "ingested", "error_code": None, "error": None, "chunk_ids": ["c3"], "pages": None,
                  "title": "B", "labels": ["internal"], "updated_at": "t0"}
    db.execute("INSERT INTO pending VALUES (?,?,?,?)", ("s/b.md", "d2", '["c3"]', json.dumps(old_record)))
    db.commit()
    db.close()
    manifest = Manifest(path)
    rec = manifest.get("s/a.docx")
    assert rec is not None and rec.chunk_ids == ("c1", "c2")
    assert rec.metadata is None  # never read: not the same as "read, and it has none"
    assert (rec.ctime_ns, rec.checked_ns) == (None, None)  # no stat recorded: the next sync reads the file
    assert manifest.pending()[0].record.metadata is None  # an intent row staged by the old version
    written = RecordingWriter()
    report = relabel(manifest, written, partial(labels_for, RULES))
    assert report.metadata_never_recorded == ["s/a.docx"] and report.to_dict()["documents_without_recorded_metadata"] == 1
    assert written.calls == []  # path rules still give "internal": nothing to change
    manifest.put(replace(rec, metadata={"sensitivity": "Highly Confidential"}))
    manifest.close()
    again = Manifest(path)  # reopening does not migrate twice
    assert again.get("s/a.docx").metadata == {"sensitivity": "Highly Confidential"}
    report = relabel(again, written, partial(labels_for, RULES))
    assert report.metadata_never_recorded == [] and written.calls == [(["c1", "c2"], ["internal", "restricted"])]
    assert again.get("s/a.docx").labels == ("internal", "restricted")
    again.close()


class RecordingWriter:
    """Records set_labels calls (the real index is exercised by the live tests below)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def set_labels(self, chunk_ids: Any, labels: Any) -> None:
        self.calls.append((list(chunk_ids), list(labels)))


# -- a live install: ingest through the sandboxed parser, retrieve as users, relabel -------------

MINUTES = "The board approved the acquisition of Riverside Clinic for 41 million euros on 3 June."
STRATEGY = "The five-year strategy closes the Elm Street maternity unit and opens a birthing centre in 2029."
CAFETERIA = "The staff cafeteria on level 2 opens at 07:30 and closes at 15:00."
PARKING = "Staff parking permits for the north garage are renewed every January at the security desk."


def live_policy(secret_labels: str = "[restricted]", board_grants: str = "[restricted]") -> str:
    return f"""version: 1
groups: {{staff: {{}}, board: {{}}}}
users:
  sam: {{groups: [staff]}}
  hana: {{groups: [staff, board]}}
labels:
  - {{match: "docs/general/**", labels: [internal]}}
  - {{metadata: {{sensitivity: "Highly Confidential"}}, labels: {secret_labels}}}
  - {{metadata: {{classification: restricted}}, labels: [restricted]}}
grants:
  - {{group: staff, labels: [internal]}}
  - {{group: board, labels: {board_grants}}}
"""


@dataclass
class Live:
    """An installed Enclave whose documents carry their own classification."""

    settings: Settings
    embedder: Any
    report: Any


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, assembled_model: Path) -> Iterator[Live]:
    from enclave.ingest_job import folder_source, run_ingest_job
    from enclave.wiring import build_embedder

    root = tmp_path_factory.mktemp("meta")
    with pytest.MonkeyPatch.context() as mp:
        settings = install_home(mp, root / "home", assembled_model, live_policy())
        docs = root / "docs"
        labelled_docx(docs / "general" / "board-minutes.docx", "Board minutes", MINUTES)
        write_docx(docs / "general" / "cafeteria.docx", "Cafeteria", [CAFETERIA])
        broken = write_docx(docs / "general" / "parking.docx", "Parking", [PARKING])  # its label part is unreadable
        add_parts(broken, {"docProps/custom.xml": custom_xml(msip(HC_GUID, "Highly Confidential"))[:-40]},
                  {"docProps/custom.xml": (CUSTOM_CT, CUSTOM_REL)})
        (docs / "vault").mkdir()
        (docs / "vault" / "strategy.md").write_text(f"---\nclassification: Restricted\n---\n# Strategy\n\n{STRATEGY}\n")
        embedder = build_embedder(settings)
        report = run_ingest_job(settings, [folder_source(settings, docs)], trigger="test", actor="operator", embedder=embedder)
        yield Live(settings, embedder, report)


def _records(live: Live) -> dict[str, Any]:
    from ingest.manifest import Manifest

    manifest = Manifest(live.settings.manifest_path)
    try:
        return {r.source: r for r in manifest.all()}
    finally:
        manifest.close()


def _sources(live: Live, user: str, question: str) -> list[str]:
    from enclave.wiring import build_retriever, open_index, policy_loader
    from policies.engine import principal_for

    index = open_index(live.settings, live.embedder)
    try:
        principal = principal_for(policy_loader(live.settings)(), user)
        return [h.chunk.source for h in build_retriever(live.settings, index, live.embedder).retrieve(question, principal).hits]
    finally:
        index.close()


def _chunk_labels(live: Live, source: str) -> set[tuple[str, ...]]:
    from enclave.wiring import open_index
    from ingest.schema import doc_id

    index = open_index(live.settings, live.embedder)
    try:
        return {c.labels for c in index.chunks_of(doc_id(source))}
    finally:
        index.close()


def test_a_purview_labelled_docx_gets_the_extra_label_and_is_withheld_from_users_without_the_grant(live: Live) -> None:
    assert sorted(live.report.ingested) == ["docs/general/board-minutes.docx", "docs/general/cafeteria.docx",
                                            "docs/general/parking.docx", "docs/vault/strategy.md"]
    assert not live.report.failed
    rec = _records(live)["docs/general/board-minutes.docx"]
    assert rec.labels == ("internal", "restricted") and rec.metadata["sensitivity"] == "Highly Confidential"
    assert _chunk_labels(live, "docs/general/board-minutes.docx") == {("internal", "restricted")}
    question = "When did the board approve the acquisition of Riverside Clinic?"
    assert "docs/general/board-minutes.docx" not in _sources(live, "sam", question)
    assert "docs/general/cafeteria.docx" in _sources(live, "sam", "When does the staff cafeteria open?")
    assert "docs/general/board-minutes.docx" in _sources(live, "hana", question)


def test_a_document_whose_metadata_cannot_be_read_is_ingested_and_labelled_from_its_path(live: Live) -> None:
    rec = _records(live)["docs/general/parking.docx"]
    assert rec.status == "ingested" and rec.metadata == {} and rec.labels == ("internal",)
    assert [(f.source, f.code) for f in live.report.metadata_unread] == [("docs/general/parking.docx", "metadata_unreadable")]
    assert "docs/general/parking.docx" in _sources(live, "sam", "When are staff parking permits renewed?")


def test_a_document_labelled_only_by_its_front_matter_is_readable_with_the_grant(live: Live) -> None:
    """The per-question second gate (rag/retrieve.py) must keep the stored metadata labels, not only the path's."""
    rec = _records(live)["docs/vault/strategy.md"]
    assert rec.labels == ("restricted",) and rec.metadata == {"classification": "Restricted"}
    question = "Which maternity unit does the five-year strategy close?"
    assert "docs/vault/strategy.md" not in _sources(live, "sam", question)
    assert "docs/vault/strategy.md" in _sources(live, "hana", question)


def test_policy_apply_relabels_from_stored_metadata_without_parsing_or_embedding(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    from enclave.cli import app
    from ingest import docmeta, parse
    from ingest.embed import SentenceTransformerEmbedder

    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("policy apply must not parse or embed")

    source = "docs/general/board-minutes.docx"
    before = _records(live)[source]
    env = {"ENCLAVE_HOME": str(live.settings.home), "ENCLAVE_USER": "operator"}
    for module, name in ((docmeta, "read_metadata"), (parse, "read_metadata"), (parse, "parse_file")):
        monkeypatch.setattr(module, name, tripwire)
    monkeypatch.setattr(SentenceTransformerEmbedder, "embed_documents", tripwire)
    monkeypatch.setattr(SentenceTransformerEmbedder, "embed_query", tripwire)
    try:
        (live.settings.policy_dir / "policy.yaml").write_text(live_policy("[restricted, board-only]", "[restricted, board-only]"))
        result = CliRunner().invoke(app, ["policy", "apply", "--json"], env=env)
        assert result.exit_code == 0, result.output
        applied = json.loads(result.output)
        assert applied["chunks_changed"] == len(before.chunk_ids) and applied["documents_changed"] == 1
        after = _records(live)[source]
        assert after.labels == ("board-only", "internal", "restricted") and after.chunk_ids == before.chunk_ids
        assert _chunk_labels(live, source) == {("board-only", "internal", "restricted")}
        explained = CliRunner().invoke(app, ["policy", "explain", "--user", "sam", "--json"], env=env)
        assert explained.exit_code == 0, explained.output
        doc = next(d for d in json.loads(explained.output)["documents"] if d["source"] == source)
        assert not doc["allowed"] and 'sensitivity="Highly Confidential" -> restricted, board-only' in doc["labelled_by"]
    finally:
        monkeypatch.undo()
        (live.settings.policy_dir / "policy.yaml").write_text(live_policy())
        CliRunner().invoke(app, ["policy", "apply"], env=env)
    assert _records(live)[source].labels == ("internal", "restricted")
