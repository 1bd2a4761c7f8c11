"""Render benchmark results as Markdown tables (what bench/RESULTS.md holds)."""

from __future__ import annotations

from typing import Any


def _f(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else str(value)


def render(results: dict[str, Any]) -> str:
    """All stages as Markdown."""
    s = results["stages"]
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu_model'] or m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
        f"load average at start {tuple(round(x, 1) for x in m['load_avg_at_start'])}; {m['time_utc']}; mode {results['mode']}",
        "",
    ]
    stamps = {k: v["measured_utc"] for k, v in s.items() if isinstance(v, dict) and "measured_utc" in v}
    if len(set(stamps.values())) > 1:
        lines += ["Stages measured at different times (`--update`): " + "; ".join(f"{k} {t}" for k, t in stamps.items()), ""]
    embedders = {v["embedder"] for v in s.values() if isinstance(v, dict) and "embedder" in v}
    if embedders:
        lines += ["Embedder: " + "; ".join(sorted(embedders)), ""]
    if "ingest" in s and "error" not in s["ingest"]:
        i = s["ingest"]
        sec = i["seconds"]
        lines += [
            "| Ingest (`enclave ingest`) | files | pages | chunks | pages/s | chunks/s | parse children | waited for parsing s "
            "| parse CPU s | embed s | write s | total s | skipped/failed | peak RSS MiB (largest process) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {i['folder']} | {i['files']} | {i['pages']} | {i['chunks']} | {_f(i['pages_per_s'], 2)} | {_f(i['chunks_per_s'], 2)} | "
            f"{i.get('parse_workers', '')} | {_f(sec['parse'])} | {_f(i.get('parse_cpu_s', ''))} | {_f(sec['embed'])} | {_f(sec['write'])} "
            f"| {_f(sec['total'])} | {i['failed_or_skipped']} ({i['too_large']} over the size cap) | {_f(i['peak_rss_mib'], 0)} |",
            "",
        ]
    if "embed" in s and "error" not in s["embed"]:
        e = s["embed"]
        lines += [
            "| Embedding | texts | tokens | configured tok/s | fp32 baseline tok/s | speedup | mean cos to fp32 | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|",
            f"| {e['source']} ({e['configured']['dtype']}) | {e['texts']} | {e['tokens']:,} | {_f(e['configured']['tokens_per_s'], 0)} | "
            f"{_f(e['baseline_fp32']['tokens_per_s'], 0)} | {_f(e['speedup'], 2)}× | {_f(e['mean_cosine_to_fp32'], 4)} | {_f(e['peak_rss_mib'], 0)} |",
            "",
        ]
        if "fp32_ceiling" in e:
            c = e["fp32_ceiling"]
            lines += [
                "| fp32 ceiling | model GFLOP | baseline GFLOP/s | fp32 matmul GFLOP/s (torch, same run) | baseline share | most any fp32 route can gain |",
                "|---|---|---|---|---|---|",
                f"| {c['threads']} threads | {_f(c['model_gflop'], 1)} | {_f(c['baseline_gflops'], 1)} | {_f(c['matmul_fp32_gflops'], 1)} | "
                f"{_f(100 * c['baseline_share_of_matmul_rate'], 0)}% | {_f(c['max_fp32_speedup'], 2)}× |",
                "",
            ]
        if "ingest_shaped" in e:
            g = e["ingest_shaped"]
            lines += [
                "| Embedding as ingest calls it | calls | chunks | configured chunks/s | fp32 baseline (batch 32) chunks/s | speedup |",
                "|---|---|---|---|---|---|",
                f"| {e['source']} ({e['configured']['dtype']}) | {g['calls']} | {g['chunks']:,} | {_f(g['configured_chunks_per_s'], 1)} | "
                f"{_f(g['baseline_chunks_per_s'], 1)} | {_f(g['speedup'], 2)}× |",
                "",
            ]
    queries = [k for k in s if k.startswith("query") and "error" not in s[k]]
    if queries:
        lines += [
            "| Query (policy filter on) | chunks | Edge p50 ms | Edge p95 ms | client local p50 ms | client local p95 ms | Edge speedup | Edge write s | local write s | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for k in queries:
            q = s[k]
            local = q.get("qdrant_client_local", {})
            lines.append(
                f"| {k} ({q['fusion']}) | {q['chunks']:,} | {_f(q['edge']['p50_ms'], 2)} | {_f(q['edge']['p95_ms'], 2)} | "
                f"{_f(local.get('p50_ms', '-'), 2)} | {_f(local.get('p95_ms', '-'), 2)} | {_f(q.get('edge_speedup_p50', '-'), 1)}× | "
                f"{_f(q['edge']['write_s'], 1)} | {_f(local.get('write_s', '-'), 1)} | {_f(q['peak_rss_mib'], 0)} |"
            )
        lines.append("")
    if "generate" in s and "error" not in s["generate"]:
        g = s["generate"]
        lines += [
            f"Generation: Enclave and raw llama-cpp-python on one `Llama`, interleaved, median of {g['repeats']} "
            f"turns each, {g['max_tokens']} tokens asked, {g['threads']} threads, {g.get('passages', 'synthetic')} passages; "
            "positive overhead = Enclave slower.",
            "",
            "| Generation prompt | impl | prompt tokens | TTFT s | prompt tok/s | gen tok/s (over n pieces) | TTFT with cached prefix s | prefix speedup |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for size, row in g["sizes"].items():
            for impl in ("enclave", "raw"):
                x = row[impl]
                lines.append(
                    f"| {size} | {impl} | {row['prompt_tokens']} | {_f(x['ttft_s'], 2)} | {_f(x['prompt_tokens_per_s'], 0)} | "
                    f"{_f(x['tokens_per_s'], 1)} ({x['generated_pieces']:.0f}) | {_f(x['ttft_cached_prefix_s'], 2)} | {_f(x['prefix_speedup'], 1)}× |"
                )
            lines.append(f"| {size} | Enclave overhead | | {_f(row['ttft_overhead_pct'], 1)} % TTFT | | "
                         f"{_f(row['decode_overhead_pct'], 1)} % tok/s | | |")
        lines += ["", f"Generation stage peak RSS (one model loaded, both sides use it): {_f(g['peak_rss_mib'], 0)} MiB", ""]
    peers = {k: s[k] for k in ("peer enclave", "peer llama-index") if k in s and "error" not in s[k]}
    if peers:
        lines += [
            "| Peer baseline | docs | chunks | ingest s | docs/s | query p50 ms | query p95 ms | peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for k, p in peers.items():
            lines.append(f"| {k} ({p['source']}) | {p['docs']} | {p['chunks']} | {_f(p['ingest_s'], 1)} | {_f(p['docs'] / p['ingest_s'], 1)} | "
                         f"{_f(p['query_p50_ms'], 1)} | {_f(p['query_p95_ms'], 1)} | {_f(p['peak_rss_mib'], 0)} |")
        if len(peers) == 2:
            a, b = peers["peer enclave"], peers["peer llama-index"]
            lines.append(f"| Enclave speedup | | | {_f(b['ingest_s'] / a['ingest_s'], 2)}× | | {_f(b['query_p50_ms'] / a['query_p50_ms'], 2)}× | | |")
        lines.append("")
    if "ask" in s:
        a = s["ask"]
        lines += [f"`enclave ask` (one process, model load included): peak RSS {_f(a.get('peak_rss_mib', 0), 0)} MiB, "
                  f"wall {_f(a.get('wall_s', 0), 1)} s, exit code {a.get('exit_code', a.get('error'))}", ""]
    errors = [f"{k}: {v['error']}" for k, v in s.items() if isinstance(v, dict) and "error" in v]
    if errors:
        lines += ["Failed stages: " + "; ".join(errors), ""]
    return "\n".join(lines)
