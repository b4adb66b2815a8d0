"""gencommons vs huggingface datatrove: the same quality filters on the same corpus, side by side.

    .venv/bin/python bench/filters_vs_datatrove.py              # ~20k real documents, ~5 min on 2 cores
    .venv/bin/python bench/filters_vs_datatrove.py --quick      # workers=2 only, no variants, no scaling
    .venv/bin/python bench/filters_vs_datatrove.py --limit 100  # 400 documents: a smoke test in ~1 min
    .venv/bin/python bench/filters_vs_datatrove.py --scale 4 --scaling-scale 0   # 4× corpus, no scaling

1. **The comparison**, on every record of ``shared/data/text/*.jsonl.gz`` (20,560 documents, 30
   languages; ``--scale N`` repeats it with ids made unique), dealt round-robin into 8 gzip'd JSONL
   files under ``bench/results/scratch/`` (never committed), each run a fresh subprocess:

   * gencommons (``_gencommons_driver.py``): ``gopher_quality``, ``gopher_repetition``,
     ``c4_quality: {bad_words_lang: en-c4}``, ``length: {min_words: 50}`` (applied to the text C4
     left), Parquet output, local executor at 1 and 2 workers with one task per input file; and once
     at 2 workers with the engine's default task planning (``task_size`` 16 MB: one task here).
   * datatrove (``_datatrove_driver.py``, run by ``bench/.venv-datatrove``, made on first use):
     JsonlReader -> GopherQualityFilter -> GopherRepetitionFilter -> C4QualityFilter ->
     C4BadWordsFilter -> LambdaFilter (the same word-count rule) -> JsonlWriter under
     ``LocalPipelineExecutor(tasks=N, workers=N)``, N = 1 and 2, with gencommons' parameters
     (``datatrove_params``). Its English tokenizer is its default: spaCy's blank ``en`` pipeline and
     rule-based sentencizer, code inside the spacy wheel, so nothing is downloaded. One more row at 2
     workers swaps in a regex tokenizer, to show what spaCy costs.

2. **Scaling**: gencommons' local and Ray executors at 1 and 2 workers on ``--scaling-scale`` (8)
   copies of the corpus, big enough that process and ``ray.init`` start-up do not dominate.

3. **Agreement**: every run of a tool must keep the same documents; then the two tools at 2 workers
   are compared document by document, and every disagreement is re-measured by both tools and traced
   to the rule whose numbers differ (``_agreement.py``).

Measurement (``_measure.py``): pipeline time inside the driver (imports excluded, for both), CPU time
and peak RSS of the whole process tree, and the CPU the rest of the machine used meanwhile; before
each run the harness waits (``--quiet-wait``) for other processes to go idle. Every gencommons run
and this harness import one snapshot of ``src/gencommons`` taken at the start, so a working tree that
changes during the run cannot mix versions.

Writes ``bench/results/filters_vs_datatrove.md`` (printed too) and ``.json``; exits 1 if the runs of
one tool disagree among themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from _agreement import (
    agreement,
    classify,
    datatrove_decisions,
    gencommons_decisions,
    gencommons_scores,
    limit_text,
)
from _measure import Measured, measure, wait_for_quiet

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DATA = ROOT.parent / "shared" / "data" / "text"
RESULTS = BENCH / "results"
WORK = RESULTS / "scratch" / "filters_vs_datatrove"
DT_VENV = BENCH / ".venv-datatrove"
# What bench/.venv-datatrove gets; the versions this benchmark was written against.
DT_REQUIREMENTS = [
    "datatrove==0.10.1",
    "spacy>=3.8,<3.9",
    "regex",
    "orjson",
    "fasteners",
    "aiohttp",
    "requests",
    "psutil",
    # datatrove's dedup package (minhash_vs_peers.py): xxhash shingles; its __init__ imports tokenizers
    "xxhash<4",  # datatrove 0.10.1 hashes str; xxhash 4 accepts only bytes
    "tokenizers",
]
EXPLAIN_MAX = 5000  # disagreeing documents re-measured by both tools, at most
KEEP_FIELDS = ("id", "text", "source", "license", "lang")

# gencommons steps, in order; {} = the step's defaults.
GENCOMMONS_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("gopher_quality", {}),
    ("gopher_repetition", {}),
    ("c4_quality", {"bad_words_lang": "en-c4"}),  # C4's own list, which datatrove uses too
    ("length", {"min_words": 50}),
]
GENCOMMONS_STEPS_DICT = dict(GENCOMMONS_STEPS)


# ---------------------------------------------------------------- corpus


def build_corpus(scale: int, n_files: int, limit: int | None = None) -> tuple[Path, int]:
    """Deal every record of shared/data/text (the first ``limit`` of each source file, if given)
    round-robin into n_files .jsonl.gz, ``scale`` times over; reuse the files if unchanged."""
    sources = sorted(DATA.glob("*.jsonl.gz"))
    if not sources:
        raise SystemExit(f"no corpus at {DATA}/*.jsonl.gz (shared/ must sit beside the repository)")
    key = hashlib.sha256(
        json.dumps(
            [[p.name, p.stat().st_size] for p in sources] + [scale, n_files, limit, KEEP_FIELDS]
        ).encode()
    ).hexdigest()[:12]
    folder = WORK / (f"corpus-x{scale}-{n_files}files" + (f"-first{limit}" if limit else ""))
    stamp = folder / "corpus.json"
    if stamp.exists() and json.loads(stamp.read_text())["key"] == key:
        return folder, json.loads(stamp.read_text())["docs"]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    n = 0
    with contextlib.ExitStack() as stack:
        outs = [
            stack.enter_context(gzip.open(folder / f"part-{i:02d}.jsonl.gz", "wb", compresslevel=6))
            for i in range(n_files)
        ]
        for rep in range(scale):
            for src in sources:
                with gzip.open(src, "rb") as fh:
                    for k, line in enumerate(fh):
                        if limit is not None and k >= limit:
                            break
                        rec = orjson.loads(line)
                        doc = {k: rec.get(k) for k in KEEP_FIELDS}
                        if rep:
                            doc["id"] = f"{doc['id']}#{rep}"
                        outs[n % n_files].write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
                        n += 1
    stamp.write_text(json.dumps({"key": key, "docs": n, "scale": scale, "files": n_files}))
    return folder, n


# ---------------------------------------------------------------- the two tools


def gencommons_steps() -> list[tuple[str, dict[str, Any]]]:
    """The benchmark's steps that this checkout registers, with every parameter resolved."""
    from gencommons.data.step import steps

    have = []
    for name, params in GENCOMMONS_STEPS:
        if name not in steps:
            print(f"warning: step {name!r} is not registered here; benchmarking without it", file=sys.stderr)
            continue
        have.append((name, steps[name].params(**params).model_dump(mode="json")))
    if not have:
        raise SystemExit("none of the benchmark's steps is registered")
    return have


def datatrove_params(resolved: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """datatrove keyword arguments equal to gencommons' parameters, step by step (same order)."""
    out: dict[str, dict[str, Any]] = {}
    for name, p in resolved:
        if name == "gopher_quality":
            out[name] = {
                "min_doc_words": p["min_doc_words"],
                "max_doc_words": p["max_doc_words"],
                "min_avg_word_length": p["min_avg_word_length"],
                "max_avg_word_length": p["max_avg_word_length"],
                "max_symbol_word_ratio": p["max_symbol_word_ratio"],
                "max_bullet_lines_ratio": p["max_bullet_lines_ratio"],
                "max_ellipsis_lines_ratio": p["max_ellipsis_lines_ratio"],
                "max_non_alpha_words_ratio": p["min_alpha_words_ratio"],
                "min_stop_words": p["min_stop_words"],
            }
        elif name == "gopher_repetition":
            out[name] = {
                "dup_line_frac": p["dup_line_frac"],
                "dup_para_frac": p["dup_para_frac"],
                "dup_line_char_frac": p["dup_line_char_frac"],
                "dup_para_char_frac": p["dup_para_char_frac"],
                "top_n_grams": [[int(k), v] for k, v in p["top_n_grams"].items()]
                if isinstance(p["top_n_grams"], dict)
                else p["top_n_grams"],
                "dup_n_grams": [[int(k), v] for k, v in p["dup_n_grams"].items()]
                if isinstance(p["dup_n_grams"], dict)
                else p["dup_n_grams"],
            }
        elif name == "c4_quality":
            out[name] = {
                "filter_no_terminal_punct": p["filter_no_terminal_punct"],
                "min_num_sentences": p["min_num_sentences"],
                "min_words_per_line": p["min_words_per_line"],
                "max_word_length": p["max_word_length"],
                "filter_lorem_ipsum": p["filter_lorem_ipsum"],
                "filter_javascript": p["filter_javascript"],
                "filter_curly_bracket": p["filter_curly_bracket"],
                "filter_policy": p["filter_policy"],
                "remove_citations": p["remove_citations"],
            }
            if p["filter_bad_words"]:
                # datatrove keeps the bad-words rule in a filter of its own, run right after
                out["c4_badwords"] = {
                    "keep_fraction": 0.0,
                    "fail_on_missing_language": True,
                    "default_language": "en",
                }
        elif name == "length":
            out[name] = dict(p)
        else:
            raise SystemExit(f"no datatrove mapping for step {name!r}")
    return out


def _slug(name: str) -> str:
    """A run's name as a file name: "gencommons local w=2, ×8" -> "gencommons_local_w=2_x8"."""
    return name.replace(",", "").replace("×", "x").replace(" ", "_").replace("/", "-")


@dataclass
class Run:
    name: str
    tool: str
    executor: str
    workers: int
    out: Path
    cmd: list[str]
    env: dict[str, str] | None = None
    measured: Measured = field(default_factory=Measured)


def gencommons_run(
    name: str,
    *,
    corpus: Path,
    steps: list[tuple[str, dict[str, Any]]],
    kind: str,
    workers: int,
    env: dict[str, str],
    task_per_file: bool = True,
    work: Path = WORK,
    python: str | None = None,
) -> Run:
    """``python``: the interpreter (default: this one, the project's ``.venv``)."""
    out = work / "out" / _slug(name)
    cfg = {
        "input": {"path": str(corpus / "*.jsonl.gz"), "format": "jsonl"},
        "steps": [{n: p} for n, p in steps],
        "output": {"path": str(out), "format": "parquet"},
        "executor": {"kind": kind, "workers": workers},
    }
    cfg_path = work / f"{_slug(name)}.config.json"
    cfg_path.write_text(json.dumps(cfg, indent=1))
    cmd = [python or sys.executable, str(BENCH / "_gencommons_driver.py"), "--config", str(cfg_path)]
    if task_per_file:
        cmd.append("--task-per-file")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_UV_RUN_RUNTIME_ENV="0", **env)
    return Run(name, "gencommons", kind, workers, out, cmd, env)


def bad_words_file(steps: list[tuple[str, dict[str, Any]]]) -> str | None:
    """The bad-words list gencommons' c4_quality reads, for datatrove's C4BadWordsFilter to read too."""
    from gencommons.data.steps.c4 import BAD_WORDS_DIR

    for name, p in steps:
        if name == "c4_quality" and p["filter_bad_words"]:
            return p["bad_words_file"] or str(BAD_WORDS_DIR / f"{p['bad_words_lang']}.txt")
    return None


def datatrove_cmd(params: dict[str, dict[str, Any]], *, tokenizer: str, bad_words: str | None) -> list[str]:
    cmd = [
        str(DT_VENV / "bin" / "python"),
        str(BENCH / "_datatrove_driver.py"),
        "--tokenizer",
        tokenizer,
        "--params",
        json.dumps(params),
    ]
    return cmd + (["--bad-words-file", bad_words] if bad_words else [])


# datatrove caches downloads under HF_HOME: keep that inside the work folder, and stay offline
DT_ENV = {"HF_HOME": str(WORK / "hf-home"), "HF_HUB_OFFLINE": "1"}


def datatrove_run(
    name: str,
    *,
    corpus: Path,
    params: dict[str, dict[str, Any]],
    workers: int,
    tokenizer: str,
    bad_words: str | None,
) -> Run:
    out = WORK / "out" / _slug(name)
    shutil.rmtree(out, ignore_errors=True)
    cmd = datatrove_cmd(params, tokenizer=tokenizer, bad_words=bad_words)
    cmd += ["--input", str(corpus), "--output", str(out), "--workers", str(workers)]
    return Run(name, f"datatrove ({tokenizer})", "local", workers, out, cmd, dict(os.environ, **DT_ENV))


def ensure_datatrove_venv() -> None:
    """Create bench/.venv-datatrove with DT_REQUIREMENTS unless it already has them."""
    stamp = DT_VENV / ".bench-installed"
    if stamp.exists() and stamp.read_text() == "\n".join(DT_REQUIREMENTS):
        return
    python3 = shutil.which("python3") or sys.executable
    if not (DT_VENV / "bin" / "python").exists():
        print(f"creating {DT_VENV.relative_to(ROOT)} ({python3} -m venv)", flush=True)
        subprocess.run([python3, "-m", "venv", str(DT_VENV)], check=True)
    print(f"installing into it: {' '.join(DT_REQUIREMENTS)}", flush=True)
    subprocess.run([str(DT_VENV / "bin" / "pip"), "install", "-q", *DT_REQUIREMENTS], check=True)
    stamp.write_text("\n".join(DT_REQUIREMENTS))


def tool_versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"gencommons": version("gencommons"), "python": sys.version.split()[0]}
    probe = subprocess.run(
        [
            str(DT_VENV / "bin" / "python"),
            "-c",
            "from importlib.metadata import version as v; print(v('datatrove'), v('spacy'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out["datatrove"], out["spacy"] = probe.stdout.split()
    return out


# ---------------------------------------------------------------- explaining disagreements


def explain(
    ids: list[str], corpus: Path, steps: list[tuple[str, dict[str, Any]]], params: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per id: every step's numbers as each tool measures them, side by side ({tool: {step: {...}}})."""
    if not ids:
        return {}
    wanted = set(ids)
    docs = []
    for f in sorted(corpus.glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                if rec["id"] in wanted:
                    docs.append({"id": rec["id"], "text": rec["text"]})
    sample = WORK / "disagreements.jsonl"
    sample.write_bytes(b"".join(orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE) for d in docs))
    ours = gencommons_scores(docs, steps)
    cmd = datatrove_cmd(params, tokenizer="spacy", bad_words=bad_words_file(steps))
    cmd += ["--explain", str(sample), "--input", "-", "--output", "-", "--workers", "1"]
    probe = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, **DT_ENV), check=False
    )
    if probe.returncode != 0:
        raise SystemExit(f"datatrove --explain failed:\n{probe.stderr[-3000:]}")
    theirs = json.loads(probe.stdout.strip().splitlines()[-1])
    return {d["id"]: {"gencommons": ours[d["id"]], "datatrove": theirs[d["id"]]} for d in docs}


# datatrove's drop reasons, as gencommons names them ("<step>:<rule>")
# ---------------------------------------------------------------- report


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def run_row(r: Run, docs: int) -> dict[str, Any]:
    m = r.measured
    assert m.result is not None
    secs = m.result["seconds"]
    return {
        "run": r.name,
        "tool": r.tool,
        "executor": r.executor,
        "workers": r.workers,
        "tasks": m.result["tasks"],
        "docs_in": m.result["docs_in"],
        "kept": m.result["docs_out"],
        "pipeline_s": round(secs, 2),
        "process_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "docs_per_s": round(docs / secs, 1),
        "docs_per_s_per_core": round(docs / secs / r.workers, 1),
        "docs_per_cpu_s": round(docs / m.cpu_s, 1),
        "peak_tree_rss_mb": round(m.peak_tree_rss / 2**20, 1),
        "peak_proc_rss_mb": round(m.peak_proc_rss / 2**20, 1),
        "processes": m.max_procs,
        "leftover_processes": m.leftover_procs,
        "other_cores": round(m.other_cores, 2),
        "log": m.log,
        "steps": m.result.get("steps"),
    }


def _runs_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        (
            "| run | tasks | kept | pipeline s | process s | CPU s | docs/s | docs/s per core | docs per CPU-s "
            "| peak RSS, tree (MB) | peak RSS, 1 process (MB) | other load (cores) |"
        ),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['tasks']} | {r['kept']:,} | {r['pipeline_s']:.1f} | {r['process_s']:.1f} | "
            f"{r['cpu_s']:.1f} | {r['docs_per_s']:,.0f} | {r['docs_per_s_per_core']:,.0f} | "
            f"{r['docs_per_cpu_s']:,.0f} | {r['peak_tree_rss_mb']:,.0f} | {r['peak_proc_rss_mb']:,.0f} | "
            f"{r['other_cores']:.2f} |"
        )
    return lines


def markdown(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    ratios: list[dict[str, Any]],
    scaling: dict[str, Any] | None,
    scaling_rows: list[dict[str, Any]],
    agree: dict[str, Any],
    checks: list[dict[str, Any]],
) -> str:
    v = meta["versions"]
    steps = ", ".join(f"{n} {json.dumps(p)}" if p else n for n, p in meta["steps_short"])
    lines = [
        "# gencommons vs datatrove: Gopher quality + repetition + C4 + length",
        "",
        (
            f"Corpus: {meta['docs']:,} documents ({meta['scale']}× shared/data/text, {meta['files']} input files). "
            f"Machine: {meta['cores']} cores, {meta['memory_gb']:.0f} GB. gencommons {v['gencommons']} "
            f"({meta['gencommons_source']}), datatrove {v['datatrove']} (spaCy {v['spacy']}), Python {v['python']}. "
            f"Steps: {steps}. {meta['date']}."
        ),
        "",
        *_runs_table(rows),
        "",
        (
            "pipeline s: the executor's run, start-up of the interpreter and imports left out (process s has "
            "them). docs/s = documents in / pipeline s; per core = that / workers; docs per CPU-s = documents / "
            "CPU seconds of the whole process tree, start-up included. Peak RSS, tree = the largest sum over all "
            "processes of the run (sampled every 0.1 s); 1 process = the largest single process. Other load = CPU "
            "used by the rest of the machine during the run (0 on a quiet machine; above ~0.2 the run shared "
            "its cores)."
        ),
        "",
    ]
    if ratios:
        lines += [
            "## gencommons / datatrove at equal workers",
            "",
            "| gencommons run | datatrove run | docs/s per core | docs per CPU-s | peak RSS, tree | ≥ 3× docs/s per core |",
            "|---|---|--:|--:|--:|:-:|",
        ]
        for q in ratios:
            lines.append(
                f"| {q['gencommons']} | {q['datatrove']} | {q['speed']:.2f}× | {q['cpu']:.2f}× | "
                f"{q['memory']:.2f}× | {'yes' if q['speed'] >= 3 else 'no'} |"
            )
        lines.append("")
    if scaling:
        lines += [
            f"## gencommons executors, 1 → 2 workers ({scaling['docs']:,} documents, {scaling['scale']}× the corpus)",
            "",
            *_runs_table(scaling_rows),
            "",
        ]
        for kind in ("local", "ray"):
            if kind in scaling:
                k = scaling[kind]
                note = ", ray.init and shutdown included" if kind == "ray" else ""
                lines.append(
                    f"- {kind} executor: {k['s1']:.1f} s → {k['s2']:.1f} s, speed-up **{k['speedup']:.2f}×** "
                    f"(parallel efficiency {k['efficiency']:.0%}{note})."
                )
        lines.append("")
    lines += ["## Consistency", ""]
    for c in checks:
        verdict = "every run kept the same documents" if c["same"] else "**runs DIFFER**"
        lines.append(f"- {c['label']}: {verdict} ({c['detail']})")
    lines.append("")
    if agree:  # always, kept as a block
        lines += [
            f"## Agreement ({agree['gencommons_run']} vs {agree['datatrove_run']})",
            "",
            (
                f"{agree['documents']:,} documents: gencommons keeps {agree['kept_gencommons']:,}, datatrove keeps "
                f"{agree['kept_datatrove']:,}, both keep {agree['kept_both']:,}. The tools decide the same on "
                f"**{agree['agreement']:.2%}** of documents; {agree['disagree']:,} disagree."
            ),
            "",
        ]
        if agree["pairs"]:
            lines += [
                (
                    "Every disagreement, by (gencommons' reason, datatrove's filter:reason). *explained* counts the "
                    "documents where the rule's number, as each tool measures it, falls on the side of the limit "
                    "that gives that tool's verdict (the rest would be a bug in one of them); the examples show "
                    "gencommons' number vs datatrove's."
                ),
                "",
                "| gencommons says | datatrove says | docs | explained | limit | cause | examples: gencommons vs datatrove |",
                "|---|---|--:|--:|---|---|---|",
            ]
            for p in agree["pairs"]:
                nums = p.get("numbers", {})
                examples = "; ".join(
                    f"`{i}`"
                    + (f" {_num(nums[i]['gencommons'])} vs {_num(nums[i]['datatrove'])}" if i in nums else "")
                    for i in p["examples"]
                )
                explained = f"{p['explained']:,}/{p['count']:,}" if "explained" in p else "–"
                limit = limit_text(p.get("rule", ""), meta["steps"]) if "rule" in p else ""
                lines.append(
                    f"| {p['gencommons']} | {p['datatrove']} | {p['count']:,} | {explained} | {limit} | "
                    f"{p.get('cause', '')} | {examples} |"
                )
            lines.append("")
        lines += [
            (
                f"Documents both drop: {agree['dropped_both']:,}; the first rule that fired is the same rule for "
                f"{agree['dropped_both_same_reason']:,} ({agree['dropped_both_same_reason'] / max(1, agree['dropped_both']):.1%}). "
                "Where it is not (the same document fails several rules, and one tool's number crossed an earlier "
                "rule's limit), the most common pairs: "
                + "; ".join(
                    f"{x['gencommons']} / {x['datatrove']} {x['count']:,}"
                    for x in agree["dropped_both_other_reason"][:6]
                )
                + "."
            ),
            "",
        ]
        for tool in ("gencommons", "datatrove"):
            reasons = ", ".join(f"{k} {n:,}" for k, n in agree[f"reasons_{tool}"].items())
            lines += [f"Drop reasons, {tool}: {reasons}.", ""]
    return "\n".join(lines)


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------- main


def snapshot_source(work: Path = WORK) -> tuple[Path, str]:
    """Copy src/gencommons into the work folder and return (its parent, a hash of its files).

    Every gencommons run, and this harness, import that copy: all runs measure one version of the
    code even if the working tree changes while the benchmark runs."""
    src = ROOT / "src" / "gencommons"
    dest = work / "src-snapshot"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest / "gencommons", ignore=shutil.ignore_patterns("__pycache__"))
    h = hashlib.sha256()
    for f in sorted((dest / "gencommons").rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(dest)).encode() + b"\0" + f.read_bytes())
    return dest, h.hexdigest()[:12]


def git_state() -> str:
    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "src/gencommons")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes in src/gencommons" if dirty else "")


def run_all(runs: list[Run], n_docs: int, *, quiet_wait: float, work: Path = WORK) -> None:
    for r in runs:
        wait_for_quiet(quiet_wait)
        print(f"running {r.name} ...", end=" ", flush=True)
        log = work / f"{_slug(r.name)}.log"
        r.measured = measure(r.cmd, log_path=log, cwd=ROOT, env=r.env)
        res = r.measured.result or {}
        print(f"{res['seconds']:.1f} s, kept {res['docs_out']:,}/{res['docs_in']:,}", flush=True)
        if res["docs_in"] != n_docs:
            raise SystemExit(f"{r.name} read {res['docs_in']} documents, expected {n_docs}")


def corpus_ids(corpus: Path) -> set[str]:
    ids: set[str] = set()
    for f in sorted(corpus.glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            ids.update(orjson.loads(line)["id"] for line in fh)
    return ids


def consistent(label: str, runs: list[Run]) -> dict[str, Any]:
    """Did every run in ``runs`` (one tool, one corpus) keep the same documents?"""
    kept = {
        r.name: (gencommons_decisions(r.out) if r.tool == "gencommons" else datatrove_decisions(r.out))[0]
        for r in runs
    }
    for r in runs:  # the ids read back must be as many as the run said it kept
        said = (r.measured.result or {}).get("docs_out")
        if said != len(kept[r.name]):
            raise SystemExit(
                f"{r.name}: reported {said} kept documents, but {len(kept[r.name])} ids were read back"
            )
    first = next(iter(kept.values()))
    return {
        "label": label,
        "same": all(k == first for k in kept.values()),
        "detail": ", ".join(f"{n}: {len(k):,} kept" for n, k in kept.items()),
    }


def ratio(g: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    return {
        "gencommons": g["run"],
        "datatrove": d["run"],
        "speed": g["docs_per_s_per_core"] / d["docs_per_s_per_core"],
        "cpu": g["docs_per_cpu_s"] / d["docs_per_cpu_s"],
        "memory": g["peak_tree_rss_mb"] / d["peak_tree_rss_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=1, help="repeat the corpus N times for the comparison")
    ap.add_argument(
        "--scaling-scale",
        type=int,
        default=8,
        help="corpus repeats for the 1 -> 2 worker scaling runs of gencommons (0: skip them)",
    )
    ap.add_argument("--files", type=int, default=8, help="input files the corpus is dealt into")
    ap.add_argument(
        "--limit", type=int, default=None, help="only the first N documents of each source (smoke test)"
    )
    ap.add_argument("--quick", action="store_true", help="workers=2 only; no regex variant, no scaling runs")
    ap.add_argument("--no-ray", action="store_true", help="leave the Ray executor out of the scaling runs")
    ap.add_argument("--no-regex", action="store_true", help="skip the datatrove run with a regex tokenizer")
    ap.add_argument("--no-explain", action="store_true", help="do not re-measure the disagreeing documents")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each run, wait up to this many seconds for other processes to go idle",
    )
    args = ap.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    snapshot, src_hash = snapshot_source()
    sys.path.insert(0, str(snapshot))  # this harness measures with the same copy (imported lazily below)
    gc_env = {"PYTHONPATH": str(snapshot)}
    ensure_datatrove_venv()
    corpus, n_docs = build_corpus(args.scale, args.files, args.limit)
    steps = gencommons_steps()
    params = datatrove_params(steps)
    bad_words = bad_words_file(steps)
    print(f"corpus: {n_docs:,} docs in {args.files} files at {corpus.relative_to(ROOT)}", flush=True)
    print(
        f"steps: {[n for n, _ in steps]}; gencommons source {git_state()} (snapshot {src_hash})", flush=True
    )

    # 1. the comparison, on the same corpus
    workers = [2] if args.quick else [1, 2]
    runs: list[Run] = []
    for w in workers:
        runs.append(
            gencommons_run(
                f"gencommons local w={w}", corpus=corpus, steps=steps, kind="local", workers=w, env=gc_env
            )
        )
        runs.append(
            datatrove_run(
                f"datatrove w={w}",
                corpus=corpus,
                params=params,
                workers=w,
                tokenizer="spacy",
                bad_words=bad_words,
            )
        )
    if not args.quick:
        runs.append(
            gencommons_run(
                "gencommons local w=2, default tasks",
                corpus=corpus,
                steps=steps,
                kind="local",
                workers=2,
                task_per_file=False,
                env=gc_env,
            )
        )
        if not args.no_regex:
            runs.append(
                datatrove_run(
                    "datatrove w=2, regex tokenizer",
                    corpus=corpus,
                    params=params,
                    workers=2,
                    tokenizer="regex",
                    bad_words=bad_words,
                )
            )
    run_all(runs, n_docs, quiet_wait=args.quiet_wait)
    rows = [run_row(r, n_docs) for r in runs]
    by_name = {row["run"]: row for row in rows}
    ratios = [ratio(by_name[f"gencommons local w={w}"], by_name[f"datatrove w={w}"]) for w in workers]
    if "datatrove w=2, regex tokenizer" in by_name:
        ratios.append(ratio(by_name["gencommons local w=2"], by_name["datatrove w=2, regex tokenizer"]))

    # 2. how gencommons' executors scale from 1 to 2 workers, on a corpus big enough to hide start-up
    scaling_rows: list[dict[str, Any]] = []
    scaling: dict[str, Any] | None = None
    scaling_runs: list[Run] = []
    if args.scaling_scale and not args.quick:
        big, n_big = build_corpus(args.scaling_scale, args.files, args.limit)
        print(f"scaling corpus: {n_big:,} docs", flush=True)
        kinds = ["local"] + ([] if args.no_ray else ["ray"])
        for kind in kinds:
            for w in (1, 2):
                scaling_runs.append(
                    gencommons_run(
                        f"gencommons {kind} w={w}, ×{args.scaling_scale}",
                        corpus=big,
                        steps=steps,
                        kind=kind,
                        workers=w,
                        env=gc_env,
                    )
                )
        run_all(scaling_runs, n_big, quiet_wait=args.quiet_wait)
        scaling_rows = [run_row(r, n_big) for r in scaling_runs]
        sb = {row["run"]: row for row in scaling_rows}
        scaling = {"docs": n_big, "scale": args.scaling_scale}
        for kind in kinds:
            s1 = sb[f"gencommons {kind} w=1, ×{args.scaling_scale}"]["pipeline_s"]
            s2 = sb[f"gencommons {kind} w=2, ×{args.scaling_scale}"]["pipeline_s"]
            scaling[kind] = {"s1": s1, "s2": s2, "speedup": s1 / s2, "efficiency": s1 / s2 / 2}

    # 3. decisions: every run of one tool on one corpus keeps the same documents; then the tools compared
    checks = [
        consistent("gencommons", [r for r in runs if r.tool == "gencommons"]),
        consistent("datatrove (spaCy)", [r for r in runs if r.tool == "datatrove (spacy)"]),
    ]
    if scaling_runs:
        checks.append(consistent(f"gencommons ×{args.scaling_scale}", scaling_runs))
    g_name, d_name = f"gencommons local w={workers[-1]}", f"datatrove w={workers[-1]}"
    run_by_name = {r.name: r for r in runs}
    agree = agreement(
        gencommons_decisions(run_by_name[g_name].out),
        datatrove_decisions(run_by_name[d_name].out),
        corpus_ids(corpus),
    )
    agree.update(gencommons_run=g_name, datatrove_run=d_name)
    if not args.no_explain:
        explained = explain(
            [i for p in agree["pairs"] for i in p["ids"]][:EXPLAIN_MAX], corpus, steps, params
        )
        classify(agree, explained, steps)

    meta = {
        "docs": n_docs,
        "scale": args.scale,
        "files": args.files,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": psutil.virtual_memory().total / 1e9,
        "versions": tool_versions(),
        "gencommons_source": f"git {git_state()}, source snapshot {src_hash}",
        "steps": steps,
        "steps_short": [(n, GENCOMMONS_STEPS_DICT.get(n, {})) for n, _ in steps],
        "datatrove_params": params,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    md = markdown(meta, rows, ratios, scaling, scaling_rows, agree, checks)
    print("\n" + md)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "filters_vs_datatrove.md").write_text(md + "\n", encoding="utf-8")
    # the JSON keeps the first 50 ids (and their numbers) of every pair
    agree_json = dict(
        agree,
        pairs=[
            {k: v for k, v in p.items() if k not in ("ids", "numbers")}
            | {"ids": p["ids"][:50], "numbers": {i: p.get("numbers", {}).get(i) for i in p["ids"][:50]}}
            for p in agree["pairs"]
        ],
    )
    (RESULTS / "filters_vs_datatrove.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "runs": rows,
                "ratios": ratios,
                "scaling": scaling,
                "scaling_runs": scaling_rows,
                "consistency": checks,
                "agreement": agree_json,
                "measured": {r.name: asdict(r.measured) for r in runs + scaling_runs},
            },
            indent=1,
            default=str,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {(RESULTS / 'filters_vs_datatrove.md').relative_to(ROOT)} and .json", flush=True)
    return 0 if all(c["same"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
