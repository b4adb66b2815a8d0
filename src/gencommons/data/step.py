"""The step contract and the registry of pipeline steps.

Three kinds of step, all registered by name in ``steps`` so that a YAML config can name them:

* **FilterStep** — ``measure(batch, params)`` computes score columns for a batch (vectorized where
  the rule allows); ``rules`` turn scores and thresholds into a drop reason per row (first rule that
  fires wins, ``None`` keeps the row). Splitting measurement from decision is what makes
  ``mode: annotate`` and ``gencommons data apply-thresholds`` possible: the scores are stored as
  columns and the same rules run later as a polars query, without recomputing anything.
* **MapperStep** — ``apply(batch, params)`` returns a new batch and named counts (e.g. how many
  emails were redacted).
* **GlobalStep** — needs the whole dataset (deduplication). It runs in stages: a signature per batch
  in the map stage before it, one or more reduce stages across shards (each split into parallel
  tasks), then per-shard decisions applied in the next map stage.

Steps know nothing about files, workers or progress: the engine (``pipeline.py`` and
``executors/``) counts rows in and out, drop reasons and timings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from gencommons.registry import Registry

if TYPE_CHECKING:  # polars is imported where a filter runs: a pipeline of other steps never loads it
    import polars as pl


class StepParams(BaseModel):
    """Base of every step's parameters: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# A rule: (reason suffix, params -> boolean polars expression over score columns; True drops the row).
Rule = tuple[str, Callable[[Any], "pl.Expr"]]


@dataclass(frozen=True)
class FilterStep:
    """A filter: measure scores, then apply threshold rules to them.

    Attributes:
        name: registry name, also the prefix of its reasons (``gopher_quality:mean_word_length``).
        params: the pydantic model of its parameters; its fields and defaults are the documentation.
        measure: batch, params -> polars DataFrame of score columns (one row per document). A column
            named ``text`` replaces the documents' text (C4 removes lines, for instance).
        rules: ordered rules; the first that fires gives the row's drop reason.
        keep_columns: score columns kept in the output in ``filter`` mode too (e.g. ``language``).
        thresholds: the params that only the rules read; ``apply-thresholds`` may change these.
        paper: where the rules come from.
    """

    name: str
    params: type[StepParams]
    measure: Callable[[pa.Table, Any], pl.DataFrame]
    rules: Sequence[Rule]
    keep_columns: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()
    paper: str | None = None
    kind: ClassVar[str] = "filter"

    @property
    def doc(self) -> str:
        return (self.measure.__doc__ or "").strip()

    def reason_expr(self, p: Any) -> pl.Expr:
        """A polars expression giving each row's drop reason (null keeps it)."""
        import polars as pl

        expr: Any = None
        for suffix, rule in self.rules:
            cond = rule(p).fill_null(False)
            reason = pl.lit(f"{self.name}:{suffix}")
            expr = pl.when(cond).then(reason) if expr is None else expr.when(cond).then(reason)
        if expr is None:
            return pl.lit(None, dtype=pl.String)
        return expr.otherwise(pl.lit(None, dtype=pl.String))


@dataclass(frozen=True)
class MapperStep:
    """A mapper: returns a new batch and counts of what it changed."""

    name: str
    params: type[StepParams]
    apply: Callable[[pa.Table, Any], tuple[pa.Table, dict[str, int]]]
    paper: str | None = None
    kind: ClassVar[str] = "mapper"

    @property
    def doc(self) -> str:
        return (self.apply.__doc__ or "").strip()


@dataclass(frozen=True)
class ReduceStage:
    """One barrier stage of a global step, split into ``tasks(params, n_shards)`` parallel tasks.

    ``run(workdir, task, n_shards, params)`` reads and writes files under ``workdir`` only.
    """

    name: str
    tasks: Callable[[Any, int], int]
    run: Callable[[str, int, int, Any], None]


class GlobalStep(Protocol):
    """A step that needs the whole dataset, run in stages (see the module docstring)."""

    name: str
    params: type[StepParams]
    paper: str | None
    kind: ClassVar[str]
    doc: str
    reduce_stages: Sequence[ReduceStage]

    def save_signatures(
        self, batch: pa.Table, p: Any, *, workdir: str, shard: int, part: int, first_row: int
    ) -> None:
        """Write what the reduce stages need for this batch (rows first_row..) under ``workdir``.

        A step may also define ``finish_signatures(p, *, workdir, shard)``: the engine calls it once
        when the map task has saved its last batch (before the task counts as done), so that a step
        may gather several batches into one file (``dedup/spool.py``) and write the rest there.
        """

    def decisions(self, p: Any, *, workdir: str, shard: int, n_rows: int) -> pa.Table:
        """Row-aligned table for one shard: ``reason`` (null keeps) plus annotation columns.

        A ``text`` column, where not null, replaces the document's text (substring dedup removes spans).
        A step may also define ``shard_counts(p, *, workdir, shard) -> dict[str, int]``: counts of what
        it changed in that shard, summed into the manifest's step statistics.
        """
        ...


Step = FilterStep | MapperStep | GlobalStep

steps: Registry[Any] = Registry(
    "pipeline step", package=("gencommons.data.steps", "gencommons.data.dedup"), group="gencommons.steps"
)


def filter_step(
    name: str,
    *,
    params: type[StepParams],
    rules: Sequence[Rule],
    keep_columns: Sequence[str] = (),
    thresholds: Sequence[str] | None = None,
    paper: str | None = None,
) -> Callable[[Callable[[pa.Table, Any], pl.DataFrame]], FilterStep]:
    """Register ``measure`` as the filter ``name``.

    Example:
        >>> import polars as pl
        >>> class P(StepParams):
        ...     min_chars: int = 1
        >>> @filter_step("doc_example", params=P, rules=[("short", lambda p: pl.col("n") < p.min_chars)])
        ... def doc_example(batch, p):
        ...     '''Drop empty documents.'''
        ...     return pl.DataFrame({"n": pl.from_arrow(batch["text"]).str.len_chars()})
    """

    def decorate(measure: Callable[[pa.Table, Any], pl.DataFrame]) -> FilterStep:
        step = FilterStep(
            name=name,
            params=params,
            measure=measure,
            rules=tuple(rules),
            keep_columns=tuple(keep_columns),
            thresholds=tuple(thresholds if thresholds is not None else params.model_fields),
            paper=paper,
        )
        steps.add(name, step)
        return step

    return decorate


def mapper_step(
    name: str, *, params: type[StepParams], paper: str | None = None
) -> Callable[[Callable[[pa.Table, Any], tuple[pa.Table, dict[str, int]]]], MapperStep]:
    """Register ``apply`` as the mapper ``name``."""

    def decorate(apply: Callable[[pa.Table, Any], tuple[pa.Table, dict[str, int]]]) -> MapperStep:
        step = MapperStep(name=name, params=params, apply=apply, paper=paper)
        steps.add(name, step)
        return step

    return decorate


@dataclass
class StepCounts:
    """What the engine counts for one step on one shard (summed across shards)."""

    docs_in: int = 0
    docs_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, other: StepCounts) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.seconds += other.seconds
        for k, v in other.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + v
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "dropped": dict(sorted(self.dropped.items())),
            "counts": dict(sorted(self.counts.items())),
            "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepCounts:
        return cls(
            docs_in=d["docs_in"],
            docs_out=d["docs_out"],
            dropped=dict(d.get("dropped", {})),
            counts=dict(d.get("counts", {})),
            seconds=float(d.get("seconds", 0.0)),
        )
