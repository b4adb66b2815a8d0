"""``apply-thresholds``: turn an annotated dataset into the filtered one with a query, not a re-run.

A step run with ``mode: annotate`` stores its score columns and ``<step>_reason``. Its rules read only
those columns, so the same rules, with the thresholds of the original config or new ones, run here as
one polars query over the dataset. The steps apply in pipeline order: a document dropped by an earlier
step does not count as the first copy for ``exact_dedup``, exactly as in a filtering run. The result is
a new dataset whose manifest names the annotated one as its input.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from gencommons.data.step import steps
from gencommons.errors import ConfigError, OutputConflictError, UserError
from gencommons.lineage.hashing import config_hash, content_id, file_sha256
from gencommons.lineage.manifest import new_manifest, read_manifest, write_manifest

REASON = "reason"


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["gopher_quality.min_doc_words=100"]`` -> ``{"gopher_quality": {"min_doc_words": 100}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        step, dot, param = key.partition(".")
        if not sep or not dot:
            raise ConfigError(
                f"--set {item!r}: expected STEP.PARAM=VALUE, e.g. gopher_quality.min_doc_words=100"
            )
        out.setdefault(step, {})[param] = yaml.safe_load(value)
    return out


def apply_thresholds(
    dataset: str, output: str, *, overrides: dict[str, dict[str, Any]] | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Filter an annotated Parquet dataset by its stored scores; returns the new manifest."""
    overrides = dict(overrides or {})
    src = read_manifest(dataset)
    if src.get("format") != "parquet":
        raise UserError(
            f"{dataset}: apply-thresholds reads Parquet datasets (this one is {src.get('format')})."
        )
    annotated = [(i, s) for i, s in enumerate(src["steps"]) if s["mode"] == "annotate"]
    if not annotated:
        raise UserError(f"{dataset}: no step ran in `mode: annotate`, so there are no scores to threshold.")
    config_steps = src["config"]["steps"]
    plan = []
    for i, s in annotated:
        name = s["name"]
        step = steps[name]
        params = {k: v for k, v in config_steps[i][name].items() if k != "mode"}
        new = overrides.pop(name, {})
        allowed = set(getattr(step, "thresholds", ()) or ())
        for k in new:
            if k not in step.params.model_fields:
                raise ConfigError(f"--set {name}.{k}: {name} has no parameter {k!r}.")
            if k not in allowed:
                raise ConfigError(
                    f"--set {name}.{k}: {k} changes what is measured, not a threshold; rerun the pipeline. "
                    f"Thresholds of {name}: {', '.join(sorted(allowed)) or 'none'}."
                )
        params.update(new)
        if step.kind == "global" and getattr(step, "rethreshold_key", None) is None:
            raise ConfigError(
                f"{dataset}: {name} ran in annotate mode, but its result depends on which documents survive the "
                "steps before it, so it cannot be re-applied as a query. Run it (in filter mode) on the output "
                "of apply-thresholds instead."
            )
        plan.append((name, step, step.params(**params)))
    if overrides:
        raise ConfigError(
            f"--set: no annotated step named {', '.join(sorted(overrides))} in {dataset}; "
            f"annotated: {', '.join(n for n, _, _ in plan)}."
        )

    if os.path.exists(output):
        if not overwrite:
            raise OutputConflictError(f"{output} exists; choose another path or pass --overwrite.")
        shutil.rmtree(output)
    files = [os.path.join(dataset, f["path"]) for f in src["files"]]
    lf = pl.scan_parquet(files, glob=False).with_row_index("__row")
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    for name, step, p in plan:
        if step.kind == "global":
            key = getattr(step, "rethreshold_key", None)
            assert key is not None  # checked when the plan was made
            lf = lf.with_columns(__r=reason)
            survivors = pl.col("__r").is_null()
            first = (
                lf.filter(pl.col("__r").is_null())
                .group_by(key, maintain_order=True)
                .agg(pl.col("__row").min().alias("__first"))
            )
            lf = lf.join(first, on=key, how="left")
            dup = survivors & (pl.col("__row") != pl.col("__first"))
            reason = (
                pl.when(pl.col("__r").is_not_null())
                .then(pl.col("__r"))
                .when(dup)
                .then(pl.lit(f"{name}:duplicate"))
                .otherwise(pl.lit(None, dtype=pl.String))
            )
            lf = lf.with_columns(__r=reason).drop("__first")
            reason = pl.col("__r")
        else:
            reason = pl.coalesce(reason, step.reason_expr(p))
    table = lf.with_columns(__reason=reason).sort("__row").collect()
    os.makedirs(output, exist_ok=True)
    kept = table.filter(pl.col("__reason").is_null()).drop("__row", "__reason", "__r", strict=False)
    dropped = table.filter(pl.col("__reason").is_not_null()).drop("__row", "__r", strict=False)
    os.makedirs(os.path.join(output, "data"), exist_ok=True)
    out_path = os.path.join(output, "data", "part-00000-0000.parquet")
    pq.write_table(_arrow(kept), out_path, compression="zstd")
    if dropped.height:
        os.makedirs(os.path.join(output, "rejected"), exist_ok=True)
        pq.write_table(
            _arrow(dropped.rename({"__reason": REASON})),
            os.path.join(output, "rejected", "part-00000-0000.parquet"),
            compression="zstd",
        )
    counts: dict[str, int] = {}
    for r, n in dropped.group_by("__reason").len().iter_rows():
        counts[r] = n
    lic: dict[str, int] = {}
    if "license" in kept.columns:
        for k, n in kept.group_by("license").len().iter_rows():
            lic[str(k)] = n
    files_info = [
        {
            "path": "data/" + os.path.basename(out_path),
            "sha256": file_sha256(out_path),
            "bytes": os.path.getsize(out_path),
        }
    ]
    resolved = {"apply_thresholds": {name: p.model_dump(mode="json") for name, _, p in plan}}
    manifest = new_manifest(
        "dataset",
        content_id=content_id((str(f["path"]), str(f["sha256"])) for f in files_info),
        config_hash=config_hash(resolved),
        config=resolved,
        inputs=[{"path": dataset, "content_id": src["content_id"], "docs": table.height}],
        format="parquet",
        files=files_info,
        counts={
            "documents_in": table.height,
            "documents_out": kept.height,
            "rejected": dropped.height,
            "quarantined": 0,
            "shards": 1,
        },
        steps=[
            {
                "name": name,
                "mode": "filter",
                "kind": step.kind,
                "docs_in": table.height,
                "docs_out": kept.height,
                "dropped": {k: v for k, v in counts.items() if k.startswith(name + ":")},
                "counts": {},
                "seconds": 0.0,
            }
            for name, step, _ in plan
        ],
        licenses={
            "inputs": src["licenses"]["output"],
            "output": dict(sorted(lic.items())),
            "result": _result(lic),
        },
    )
    write_manifest(output, manifest)
    return manifest


def _arrow(df: pl.DataFrame) -> pa.Table:
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def _result(lic: dict[str, int]) -> str:
    from gencommons.data.pipeline import result_license

    return result_license(lic)
