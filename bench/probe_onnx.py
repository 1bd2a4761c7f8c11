"""Probe: would ONNX Runtime (fp32, or int8 dynamic quantisation) or OpenVINO make the bundled MiniLM faster here?

Not a product path (Enclave embeds with sentence-transformers). Exports the bundled model with
`torch.onnx.export`, quantises it with `onnxruntime.quantization.quantize_dynamic` (per-channel int8),
and times both against sentence-transformers fp32 on the same SciFact abstracts, interleaved, in one
process; prints one JSON object with medians and the cosine to the fp32 vectors. With --openvino it
also converts the model with `openvino.convert_model` (fp32, CPU plugin); OpenVINO is not an Enclave
dependency, so install it aside first (`pip install --target DIR openvino`, then `PYTHONPATH=DIR`). With
--torch-int8 it also times torch's own dynamic int8 (`torch.ao.quantization.quantize_dynamic`, fbgemm):
every linear layer per-tensor, every one per-channel, and per-channel with each feed-forward output layer
left in fp32 (its input, after GELU, carries the outliers).

    .venv/bin/python bench/probe_onnx.py [--texts 256] [--repeats 3] [--openvino] [--torch-int8]

With --beir DIR [--split NAME | --qrels FILE] it instead scores int8 against fp32 where the goal is
set, in retrieval: the product's chunks of the whole corpus embedded both ways (cached beside
`bench/tune_retrieval.py`'s vectors), nDCG@10 of the default fusion and of dense alone, with
paired-bootstrap 95% intervals.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MAX_TOKENS = 256


def last_hidden(model: Any) -> Any:
    """The sentence-transformers model's transformer as (ids, mask, types) -> last hidden state, for export."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    return LastHidden(model[0].auto_model).eval()


def export(model: Any, folder: Path) -> tuple[Path, Path]:
    """The transformer as ONNX (fp32) and its per-channel int8 dynamic quantisation."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {"b": 0, "s": 1}
    torch.onnx.export(
        last_hidden(model), (ids, ids, torch.zeros_like(ids)), str(fp32),
        input_names=["ids", "mask", "types"], output_names=["hidden"], opset_version=17, dynamo=False,
        dynamic_axes={name: {v: k for k, v in axes.items()} for name in ("ids", "mask", "types", "hidden")},
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return fp32, int8


def openvino_session(model: Any) -> Any:
    """The transformer compiled by OpenVINO's CPU plugin (fp32), behind the same `run` call as an ORT session."""
    import openvino as ov
    import torch

    ids = torch.ones(2, 16, dtype=torch.long)
    converted = ov.convert_model(
        last_hidden(model), example_input=(ids, ids, torch.zeros_like(ids)),
        input=[ov.PartialShape([-1, -1])] * 3,
    )
    compiled = ov.Core().compile_model(
        converted, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 2, "INFERENCE_PRECISION_HINT": "f32"}
    )

    class Session:
        def run(self, _names: Any, feeds: dict[str, Any]) -> list[Any]:
            return [compiled([feeds["ids"], feeds["mask"], feeds["types"]])[0]]

    return Session()


def torch_int8(path: Path, scheme: str) -> Any:
    """The bundled model with its linear layers quantised to dynamic int8 in torch (scheme: tensor | channel | channel_ffn_out_fp32)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = MAX_TOKENS
    bert = model[0].auto_model
    qconfig = default_dynamic_qconfig if scheme == "tensor" else per_channel_dynamic_qconfig
    spec = {
        name: qconfig
        for name, module in bert.named_modules()
        if isinstance(module, torch.nn.Linear) and not (scheme == "channel_ffn_out_fp32" and name.endswith(".output.dense") and ".attention." not in name)
    }
    torch.ao.quantization.quantize_dynamic(bert, spec, inplace=True)  # in place: the module the encoder calls
    return model


def ort_embed(session: Any, tokenizer: Any, texts: list[str], batch: int = 32) -> Any:
    """Mean-pooled, unit-length vectors, longest texts first (as sentence-transformers batches)."""
    import numpy as np

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), 384), dtype="float32")
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        enc = tokenizer.encode_batch([texts[i] for i in idx])
        ids = np.array([e.ids for e in enc], dtype="int64")
        mask = np.array([e.attention_mask for e in enc], dtype="int64")
        hidden = session.run(None, {"ids": ids, "mask": mask, "types": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def fusion_quality(beir: Path, split: str, qrels_file: Path | None, cache_root: Path, int8: Path) -> dict[str, Any]:
    """nDCG@10 of the default fusion and of dense alone, int8 vectors against fp32, on one BEIR split."""
    import hashlib

    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from bench.tune_retrieval import (
        DEFAULT,
        Corpus,
        Query,
        Variant,
        paired_interval,
        per_query,
        rank,
        with_dtype,
    )
    from enclave.settings import load_settings
    from enclave.wiring import build_embedder
    from ingest.embed_models import bundled_minilm_path
    from rag.eval.beir import load_beir
    from rag.eval.scratch import corpus_digest

    data = load_beir(beir, qrels_file, split)
    qrels = {q: j for q, j in data.qrels.items() if any(r > 0 for r in j.values())}
    qids = list(qrels)
    cache = cache_root / f"{beir.name}-{corpus_digest(data.docs)[:12]}"
    cache.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(with_dtype(load_settings(), "float32"))  # the fp32 side, whatever embedding.dtype says
    corpus = Corpus(cache, data.docs, embedder, 256, False)
    tag = hashlib.sha256(json.dumps(qids).encode()).hexdigest()[:12]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(bundled_minilm_path() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    vectors: dict[str, Any] = {}
    for name, path in (("chunks", cache / "dense-256-int8.npy"), ("queries", cache / f"queries-{tag}-int8.npy")):
        if not path.is_file():
            texts = corpus.texts if name == "chunks" else [data.queries[q] for q in qids]
            np.save(path, np.concatenate([ort_embed(session, tokenizer, texts[i : i + 64], batch=8) for i in range(0, len(texts), 64)]))
        vectors[name] = np.load(path)
    fp32_queries = np.asarray(embedder.embed_documents([data.queries[q] for q in qids]), dtype="float32")
    sparse = corpus.bm25_scores([data.queries[q] for q in qids])
    result: dict[str, Any] = {"dataset": beir.name, "split": qrels_file.name if qrels_file else split, "queries": len(qids)}
    for variant in (DEFAULT, Variant("dense only", mode="dense")):
        ndcg = {}
        for name, queries, chunks in (("fp32", fp32_queries, corpus.dense), ("int8", vectors["queries"], vectors["chunks"])):
            dense = queries @ chunks.T
            run = {q: rank(variant, corpus, Query(queries[j], dense[j], sparse[j])) for j, q in enumerate(qids)}
            ndcg[name] = per_query(run, qrels)["ndcg@10"]
        lo, hi = paired_interval(ndcg["int8"], ndcg["fp32"])
        result[variant.mode] = {
            "fp32": round(float(np.mean(ndcg["fp32"])), 4), "int8": round(float(np.mean(ndcg["int8"])), 4),
            "delta": round(float(np.mean(ndcg["int8"]) - np.mean(ndcg["fp32"])), 4), "interval": [round(lo, 4), round(hi, 4)],
        }
    return result


def main() -> None:
    """Run the probe and print one JSON object."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from bench import data
    from ingest.embed_models import bundled_minilm_path

    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--openvino", action="store_true", help="also time OpenVINO fp32 (installed aside, on PYTHONPATH)")
    ap.add_argument("--torch-int8", action="store_true", help="also time torch dynamic int8 (per-tensor, per-channel, FFN output fp32)")
    ap.add_argument("--beir", type=Path, help="score int8 against fp32 in retrieval on this BEIR set instead")
    ap.add_argument("--split", default="train")
    ap.add_argument("--qrels", type=Path)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "enclave-tune")
    args = ap.parse_args()
    torch.set_num_threads(2)
    docs, source = data.corpus_texts(args.texts)
    texts = [f"{title}\n\n{text}" for _, title, text in docs]
    path = bundled_minilm_path()
    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = MAX_TOKENS
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = export(model, Path(tmp))
        if args.beir:
            print(json.dumps(fusion_quality(args.beir, args.split, args.qrels, args.cache, int8), indent=2))
            return
        sessions = {name: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for name, p in (("ort_fp32", fp32), ("ort_int8", int8))}
        if args.openvino:
            sessions["openvino_fp32"] = openvino_session(model)
        runs: dict[str, Any] = {
            "torch_fp32": lambda: model.encode(texts, batch_size=32, normalize_embeddings=True),
            **{name: (lambda s=s: ort_embed(s, tokenizer, texts)) for name, s in sessions.items()},
        }
        if args.torch_int8:
            for scheme in ("tensor", "channel", "channel_ffn_out_fp32"):
                quantised = torch_int8(path, scheme)
                runs[f"torch_int8_{scheme}"] = lambda m=quantised: m.encode(texts, batch_size=32, normalize_embeddings=True)
        for run in runs.values():
            run()  # warm up
        times: dict[str, list[float]] = {name: [] for name in runs}
        vectors: dict[str, Any] = {}
        for _ in range(args.repeats):
            for name, run in runs.items():  # interleaved, so load changes hit every variant alike
                t0 = time.perf_counter()
                vectors[name] = run()
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["torch_fp32"])
    result = {"texts": len(texts), "source": source, "repeats": args.repeats}
    for name, samples in times.items():
        cos = (vectors[name] * vectors["torch_fp32"]).sum(1)
        result[name] = {
            "median_s": round(statistics.median(samples), 2), "speedup": round(base / statistics.median(samples), 2),
            "mean_cos_to_fp32": round(float(np.mean(cos)), 5), "min_cos_to_fp32": round(float(np.min(cos)), 5),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
