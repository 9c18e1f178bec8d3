"""Print the README's benchmark tables from the latest ``bench/results/*.json``.

Run ``.venv/bin/python -m bench.report`` after the benchmarks; missing results are skipped.
"""

from __future__ import annotations

from typing import Any

from bench.common import markdown_table, read_result


def _machine(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (
        f"_{m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB; {result['date'][:10]}, "
        f"commit {result['git_commit']}, load average {m['load_avg_1m']}_"
    )


def xquad_section() -> list[str]:
    """The retrieval-quality table."""
    r = read_result("xquad")
    if not r:
        return []
    return [
        f"XQuAD, {r['paragraphs_per_language']} paragraphs and {r['questions_per_language']} "
        "questions per language:",
        "",
        markdown_table(r["summary"]),
        "",
        _machine(r),
        "",
    ]


def faiss_section() -> list[str]:
    """Flat vs HNSW: one row per size for the clustered 384-d case, both thread settings."""
    r = read_result("speed_faiss")
    if not r:
        return []
    rows = []
    for case in r["cases"]:
        for step in case["steps"]:
            row: dict[str, Any] = {
                "data": case["kind"],
                "dim": case["dim"],
                "threads": case.get("faiss_threads"),
                "n": step["size"],
                "flat wall p50 ms": step["flat"]["p50_ms"],
                "flat CPU p50 ms": step["flat"].get("cpu_p50_ms", "-"),
            }
            h = step.get("hnsw_ef128")
            row["HNSW ef128 wall p50 ms"] = h["p50_ms"] if h else "-"
            row["HNSW ef128 R@10"] = h["recall_at_10"] if h else "-"
            h = step.get("hnsw_ef256")
            row["HNSW ef256 R@10"] = h["recall_at_10"] if h else "-"
            row["HNSW build s"] = step["build"].get("hnsw_s", "-")
            rows.append(row)
    thresholds = [
        f"{c['kind']} {c['dim']}-d, {c.get('faiss_threads')} thread(s): flat p50 <= 20 ms "
        f"up to ~{c.get('ann_threshold_interpolated')} (wall), "
        f"~{c.get('ann_threshold_cpu_interpolated', '-')} (CPU time)"
        for c in r["cases"]
    ]
    return ["FAISS, single queries:", "", markdown_table(rows), "", *thresholds, "", _machine(r), ""]


def _simple(name: str, title: str) -> list[str]:
    r = read_result(name)
    if not r:
        return []
    rows = [{k: v for k, v in row.items() if not isinstance(v, dict)} for row in r["rows"]]
    return [title, "", markdown_table(rows), "", _machine(r), ""]


def main() -> None:
    """Print every section."""
    lines = xquad_section() + faiss_section()
    lines += _simple("speed_ingest", "Ingest + index throughput (passages/s):")
    lines += _simple("speed_ask", "ask latency, warm:")
    lines += _simple("speed_incremental", "Adding one paper:")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
