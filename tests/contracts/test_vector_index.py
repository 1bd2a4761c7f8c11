"""One contract for the VectorIndex port, run against Qdrant Edge and qdrant-client (local mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enclave.wiring import build_embedder
from enclave.settings import Settings
from ingest.embed import Bm25Encoder, SentenceTransformerEmbedder
from ingest.errors import IndexMismatch
from ingest.index.base import HybridQuery, VectorIndex
from ingest.index.edge import EdgeIndex
from ingest.index.server import QdrantServerIndex
from ingest.schema import SCHEMA_VERSION, Chunk, EmbeddedChunk, IndexMeta, chunk_id, doc_id

# (source, labels, passages). Labels exercise the policy filter: every label must be allowed.
DOCS: list[tuple[str, tuple[str, ...], list[str]]] = [
    ("hr/leave.docx", ("internal",), [
        "Every employee receives 28 days of paid annual leave per calendar year.",
        "Up to 7 days of unused annual leave can be carried over into the next year.",
        "Leave requests must be approved by the line manager two weeks in advance.",
    ]),
    ("hr/salaries.xlsx", ("internal", "hr-confidential"), [
        "Salary bands for nurses: band 5 starts at 28,400 pounds per year.",
        "The annual leave of senior consultants is 32 days plus bank holidays.",
    ]),
    ("clinical/mri.html", ("clinical",), [
        "The MRI safety training is held in room B214 on the second floor of the imaging wing.",
        "Patients with pacemakers must be screened before entering the MRI suite.",
    ]),
    ("clinical/dosing.md", ("clinical", "internal"), [
        "The maximum dose of paracetamol for adults is 4 grams per day.",
        "Children's doses are calculated per kilogram of body weight.",
    ]),
    ("it/unlabelled.txt", (), ["The badge system goes live in March; annual leave is unaffected."]),
]
QUERIES = [
    "How many days of annual leave can be carried over?",
    "Where is the MRI safety training?",
    "paracetamol maximum daily dose",
    "salary band for nurses",
    "badge system go live",
]
ALL_LABELS = frozenset({"internal", "clinical", "hr-confidential"})


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    """The real bundled MiniLM."""
    return build_embedder(Settings())


@pytest.fixture(scope="module")
def corpus_chunks(embedder: SentenceTransformerEmbedder) -> list[EmbeddedChunk]:
    """The documents above as embedded chunks with real dense and BM25 vectors."""
    bm25 = Bm25Encoder()
    chunks = []
    for source, labels, passages in DOCS:
        sha = f"sha-{source}"
        for n, text in enumerate(passages):
            chunks.append(Chunk(
                chunk_id=chunk_id(source, sha, n), doc_id=doc_id(source), source=source, doc_sha256=sha,
                chunk_no=n, text=text, page=n + 1 if source.endswith(".pdf") else None, section="Body",
                element_types=("NarrativeText",), labels=labels, title=source.split("/")[-1],
                ingested_at="2026-11-28T12:00:00+00:00",
            ))
    dense = embedder.embed_documents([c.text for c in chunks])
    return [EmbeddedChunk(c, d, bm25.embed_document(c.text)) for c, d in zip(chunks, dense, strict=True)]


@pytest.fixture(scope="module")
def queries(embedder: SentenceTransformerEmbedder) -> list[tuple[list[float], object]]:
    """Dense and sparse vectors for QUERIES."""
    bm25 = Bm25Encoder()
    return [(embedder.embed_query(q), bm25.embed_query(q)) for q in QUERIES]


Factory = Callable[[Path], VectorIndex]
ADAPTERS: dict[str, Factory] = {
    "edge": lambda path: EdgeIndex(path / "edge"),
    "qdrant_local": lambda path: QdrantServerIndex("enclave", path=path / "qdrant"),
}


@pytest.fixture(params=sorted(ADAPTERS))
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], VectorIndex]]:
    """Opens the adapter under test on a fresh store; closes whatever was opened."""
    opened: list[VectorIndex] = []

    def make() -> VectorIndex:
        index = ADAPTERS[request.param](tmp_path)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()


def meta_for(embedder: SentenceTransformerEmbedder) -> IndexMeta:
    """Metadata of the real embedder."""
    return IndexMeta(schema_version=SCHEMA_VERSION, embedding_model=embedder.model_id, embedding_dim=embedder.dim)


def filled(make: Callable[[], VectorIndex], embedder: SentenceTransformerEmbedder, chunks: list[EmbeddedChunk]) -> VectorIndex:
    """An index holding `chunks`."""
    index = make()
    index.ensure(meta_for(embedder))
    index.upsert(chunks)
    return index


def hybrid(vectors: tuple[list[float], object], labels: frozenset[str], limit: int = 5, fusion: str = "rrf") -> HybridQuery:
    """A query as the Retriever builds it."""
    dense, sparse = vectors
    return HybridQuery(
        dense=dense, sparse=sparse, allowed_labels=labels, limit=limit, prefetch=50, fusion=fusion  # type: ignore[arg-type]
    )


def test_ensure_records_the_embedder_and_refuses_another(make_index, embedder, tmp_path) -> None:
    index = make_index()
    index.ensure(meta_for(embedder))
    assert index.read_meta().embedding_model == embedder.model_id  # type: ignore[attr-defined]
    index.close()
    other = make_index()
    with pytest.raises(IndexMismatch) as info:
        other.ensure(IndexMeta(schema_version=SCHEMA_VERSION, embedding_model="other/model", embedding_dim=768))
    assert "other/model" in str(info.value) and info.value.hint


def test_upsert_counts_and_overwrites_by_id(make_index, embedder, corpus_chunks) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    assert index.counts() == (len(DOCS), len(corpus_chunks))
    first = corpus_chunks[0]
    changed = Chunk(**{**first.chunk.__dict__, "text": "Rewritten passage about annual leave."})
    index.upsert([EmbeddedChunk(changed, first.dense, first.sparse)])
    assert index.counts() == (len(DOCS), len(corpus_chunks))
    assert [c.text for c in index.chunks_of(first.chunk.doc_id) if c.chunk_id == first.chunk.chunk_id] == [changed.text]  # type: ignore[attr-defined]


def test_payload_round_trips_exactly(make_index, embedder, corpus_chunks, queries) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    by_id = {c.chunk.chunk_id: c.chunk for c in corpus_chunks}
    hits = [h for v in queries for h in index.query(hybrid(v, ALL_LABELS))]
    assert hits
    for hit in hits:
        assert hit.chunk == by_id[hit.chunk.chunk_id]
    assert index.all_chunk_ids() == set(by_id)  # type: ignore[attr-defined]


def test_fetch_and_export_give_back_the_stored_vectors(make_index, embedder, corpus_chunks) -> None:
    """What a moved file and `enclave index migrate` reuse instead of embedding again."""
    import numpy as np

    index = filled(make_index, embedder, corpus_chunks)
    wanted = {c.chunk.chunk_id: c for c in corpus_chunks[:3]}
    got = index.fetch([*wanted, "00000000-0000-0000-0000-000000000000"])  # type: ignore[attr-defined]
    assert set(got) == set(wanted)  # a missing id is absent, not an error
    for cid, stored in got.items():
        assert stored.chunk == wanted[cid].chunk
        assert np.allclose(stored.dense, np.asarray(wanted[cid].dense) / np.linalg.norm(wanted[cid].dense), atol=1e-6)
        assert dict(zip(stored.sparse.indices, stored.sparse.values, strict=True)) == pytest.approx(
            dict(zip(wanted[cid].sparse.indices, wanted[cid].sparse.values, strict=True))
        )
    exported = [c.chunk.chunk_id for page in index.export(2) for c in page]  # type: ignore[attr-defined]
    assert sorted(exported) == sorted(c.chunk.chunk_id for c in corpus_chunks)


@pytest.mark.parametrize("fusion", ["rrf", "convex"])
def test_label_filter_is_applied_inside_the_query(
    make_index, embedder, corpus_chunks, queries, fusion
) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    for allowed in (frozenset({"internal"}), frozenset({"clinical"}), frozenset({"internal", "clinical"})):
        for v in queries:
            for hit in index.query(hybrid(v, allowed, limit=20, fusion=fusion)):
                assert hit.chunk.labels and set(hit.chunk.labels) <= allowed
    # The salary chunk also carries hr-confidential: an 'internal' reader never sees it, even when asked for it.
    salary = index.query(hybrid(queries[3], frozenset({"internal"}), limit=20, fusion=fusion))
    assert all("Salary" not in h.chunk.text for h in salary)
    assert any("Salary" in h.chunk.text for h in index.query(hybrid(queries[3], ALL_LABELS, fusion=fusion)))
    # Unlabelled chunks match nobody; no labels at all means no results.
    unlabelled = index.query(hybrid(queries[4], ALL_LABELS, limit=20, fusion=fusion))
    assert all(h.chunk.source != "it/unlabelled.txt" for h in unlabelled)
    assert index.query(hybrid(queries[0], frozenset(), fusion=fusion)) == []


def test_best_hit_is_the_right_passage(make_index, embedder, corpus_chunks, queries) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    top = [index.query(hybrid(v, ALL_LABELS))[0].chunk.text for v in queries[:4]]
    assert "carried over" in top[0] and "B214" in top[1] and "paracetamol" in top[2] and "band 5" in top[3]
    hit = index.query(hybrid(queries[1], ALL_LABELS))[0]
    assert hit.dense_score > 0.5 and hit.sparse_score > 0.5


def test_delete_and_relabel(make_index, embedder, corpus_chunks, queries) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    mri = [c.chunk.chunk_id for c in corpus_chunks if c.chunk.source == "clinical/mri.html"]
    index.set_labels(mri, ["internal"])  # type: ignore[attr-defined]
    assert {h.chunk.source for h in index.query(hybrid(queries[1], frozenset({"internal"}), limit=20))} >= {"clinical/mri.html"}
    index.delete(mri)
    assert index.counts()[1] == len(corpus_chunks) - len(mri)
    assert all(h.chunk.chunk_id not in mri for h in index.query(hybrid(queries[1], ALL_LABELS, limit=20)))


def test_document_count_drops_when_a_document_is_deleted(make_index, embedder, corpus_chunks) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    index.delete([c.chunk.chunk_id for c in corpus_chunks if c.chunk.source == "clinical/mri.html"])
    assert index.counts()[0] == len(DOCS) - 1


def test_reopen_keeps_everything(make_index, embedder, corpus_chunks) -> None:
    index = filled(make_index, embedder, corpus_chunks)
    index.close()
    again = make_index()
    again.ensure(meta_for(embedder))
    assert again.counts() == (len(DOCS), len(corpus_chunks))


@pytest.mark.parametrize("fusion", ["rrf", "convex"])
def test_both_adapters_return_the_same_ids(tmp_path, embedder, corpus_chunks, queries, fusion) -> None:
    """Congruence: the same chunks and queries give the same ranked ids (and fused scores) on Edge and qdrant-client."""
    results = {}
    for name, factory in ADAPTERS.items():
        index = factory(tmp_path)
        index.ensure(meta_for(embedder))
        index.upsert(corpus_chunks)
        try:
            results[name] = [
                canonical(index.query(hybrid(v, labels, limit=6, fusion=fusion)))
                for v in queries
                for labels in (ALL_LABELS, frozenset({"internal"}), frozenset({"clinical"}))
            ]
        finally:
            index.close()
    assert [[cid for cid, _ in r] for r in results["edge"]] == [[cid for cid, _ in r] for r in results["qdrant_local"]]
    for edge, local in zip(results["edge"], results["qdrant_local"], strict=True):
        assert [score for _, score in edge] == pytest.approx([score for _, score in local], rel=1e-4)
    assert any(results["edge"])


def canonical(hits: list) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    """(id, score) best first; chunks with equal fused scores (an RRF tie) in id order, as engines order ties freely."""
    return sorted(((h.chunk.chunk_id, h.score) for h in hits), key=lambda p: (-round(p[1], 6), p[0]))
