"""``gencommons data card``: a Hugging Face dataset card (README.md with its YAML metadata header) and a
Croissant 1.0 JSON-LD file (https://docs.mlcommons.org/croissant/docs/croissant-spec.html), filled from
the manifest, the stats (``DATASET/stats/stats.json`` when current, computed otherwise) and the
contamination report (``DATASET/contamination/contamination.json``) when there is one.

What is not known is written as unknown, never guessed: a dataset without a manifest gets a card that
says its processing and input licences are unknown; a licence that is not SPDX-mapped to a Hub licence
id becomes ``other`` with the SPDX ids listed in the text.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import yaml

from gencommons.data.analysis.dataset import open_dataset
from gencommons.lineage.atomic import read_json

# SPDX id -> Hugging Face Hub licence id (the Hub's list is lowercase SPDX for most)
HUB_LICENSES = {
    "MIT": "mit", "Apache-2.0": "apache-2.0", "BSD-2-Clause": "bsd-2-clause", "BSD-3-Clause": "bsd-3-clause",
    "GPL-2.0-only": "gpl-2.0", "GPL-2.0-or-later": "gpl-2.0", "GPL-3.0-only": "gpl-3.0", "GPL-3.0-or-later": "gpl-3.0",
    "LGPL-2.1-only": "lgpl-2.1", "LGPL-2.1-or-later": "lgpl-2.1", "LGPL-3.0-or-later": "lgpl-3.0",
    "AGPL-3.0-only": "agpl-3.0", "CC0-1.0": "cc0-1.0", "CC-BY-4.0": "cc-by-4.0", "CC-BY-SA-4.0": "cc-by-sa-4.0",
    "CC-BY-3.0": "cc-by-3.0", "CC-BY-SA-3.0": "cc-by-sa-3.0", "CC-BY-NC-4.0": "cc-by-nc-4.0",
    "GFDL-1.3-or-later": "gfdl", "GFDL-1.2-or-later": "gfdl", "Artistic-2.0": "artistic-2.0",
    "MPL-2.0": "mpl-2.0", "Unlicense": "unlicense", "ODC-By-1.0": "odc-by", "ODbL-1.0": "odbl",
}  # fmt: skip
SIZES = [(1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"), (1e7, "1M<n<10M"),
         (1e8, "10M<n<100M"), (1e9, "100M<n<1B"), (1e10, "1B<n<10B")]  # fmt: skip
CROISSANT_CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileObject": "cr:fileObject", "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
    "transform": "cr:transform",
}  # fmt: skip


def size_category(n: int) -> str:
    return next((label for bound, label in SIZES if n < bound), "n>1T")


def _stats(path: str, ds_content_id: str | None, where: Any = None) -> dict[str, Any]:
    cached = os.path.join(path, "stats", "stats.json")
    if os.path.isfile(cached):
        s: dict[str, Any] = read_json(cached)
        if s.get("content_id") == ds_content_id:
            return s
    from gencommons.data.analysis.stats import compute_stats

    return compute_stats(path, where=where)


def _table(header: list[str], rows: Any) -> str:
    def cell(v: Any) -> str:
        return (f"{v:,}" if isinstance(v, int) else f"{v:.3g}" if isinstance(v, float) else str(v)).replace(
            "|", "\\|"
        )

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def build_card(path: str, *, name: str | None = None, where: Any = None) -> tuple[str, dict[str, Any]]:
    """(README.md text, Croissant JSON-LD dict) for the dataset at ``path``; its stats come from
    ``DATASET/stats/stats.json`` when that is current, else are computed (on the executor of ``where``)."""
    ds = open_dataset(path)
    m = ds.manifest
    s = _stats(path, (m or {}).get("content_id"), where)
    name = name or ds.name
    cont_path = os.path.join(path, "contamination", "contamination.json")
    cont = read_json(cont_path) if os.path.isfile(cont_path) else None
    cats = s["categories"]
    lic_counts: dict[str, int] = ((m or {}).get("licenses") or {}).get("output") or dict(
        (cats.get("license") or {}).get("top", [])
    )
    hub = sorted({HUB_LICENSES.get(k, "other") for k in lic_counts}) or ["unknown"]
    langs = [
        k for k, _ in (cats.get("language") or {}).get("top", []) if k and k != "(unknown)" and len(k) <= 3
    ]
    sources = [k for k, _ in (cats.get("source") or {}).get("top", []) if k and k != "(unknown)"]
    header = {
        "pretty_name": name,
        "license": hub[0] if len(hub) == 1 else hub,
        "language": langs or ["unknown"],
        "size_categories": [size_category(s["documents"])],
        "task_categories": ["text-generation"],
        "source_datasets": sources or ["unknown"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}],
    }
    if "other" in hub:
        header["license_name"] = "mixed"
        header["license_link"] = "README.md"  # the table of SPDX ids under "Sources and licences"
    limitations: list[str] = []
    out = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {name}",
        "",
    ]
    tok = f", {s['tokens']:,} tokens" if s.get("tokens") else ""
    out.append(
        f"{s['documents']:,} documents, {s['words']:,} words ({s['bytes'] / 1e6:,.1f} MB of UTF-8 text{tok}), "
        f"curated with gencommons. Content id: `{(m or {}).get('content_id', 'unknown')}`."
    )
    out += ["", "## Sources and licences", ""]
    if sources:
        src = (cats.get("source") or {}).get("top", [])
        out.append(_table(["source", "documents"], [[k, c] for k, c in src]))
    else:
        out.append("The documents carry no `source` column: their sources are unknown.")
        limitations.append("Sources are unknown (no `source` column).")
    out.append("")
    if lic_counts:
        out.append(_table(["licence (SPDX)", "documents"], sorted(lic_counts.items(), key=lambda kv: -kv[1])))
        result = ((m or {}).get("licenses") or {}).get("result")
        if result:
            out += ["", f"Licence of the collection (each document keeps its own): `{result}`."]
        if "NOASSERTION" in lic_counts:
            limitations.append(
                f"{lic_counts['NOASSERTION']:,} documents have no known licence (NOASSERTION): treat them as "
                "not licensed for use."
            )
    else:
        out.append(
            "Licences are unknown (no manifest and no `license` column): treat the data as not licensed."
        )
        limitations.append("Licences are unknown.")
    out += ["", "## Processing steps", ""]
    if m and m.get("steps"):
        rows = [[p["name"], p["mode"], p["docs_in"], p["docs_out"],
                 ", ".join(f"{k.split(':', 1)[-1]} {v:,}" for k, v in p["dropped"].items()) or "—"]
                for p in m["steps"]]  # fmt: skip
        out.append(_table(["step", "mode", "in", "out", "dropped (reason count)"], rows))
        c = m.get("counts", {})
        out += ["", f"{c.get('documents_in', 0):,} documents in, {c.get('documents_out', 0):,} out."]
        if not s["dedup"]:
            limitations.append("No deduplication step ran: the data may hold duplicates.")
    else:
        out.append("Unknown: the dataset has no manifest.json, so how it was made is not recorded.")
        limitations.append("Processing is unknown (no manifest).")
    exact = (s.get("duplicates") or {}).get("exact")
    if exact and exact["duplicate_documents"]:
        limitations.append(
            f"{exact['duplicate_documents']:,} documents ({exact['rate']:.2%}) repeat the text of an earlier "
            "one (exact duplicates after lowercasing and collapsing whitespace)."
        )
    out += ["", "## Statistics", ""]
    rows = [[k, v["mean"], v["quantiles"]["p50"], v["quantiles"]["p95"], v["max"]]
            for k, v in s["lengths"].items() if v.get("count")]  # fmt: skip
    out.append(_table(["per document", "mean", "median", "p95", "max"], rows))
    if cats.get("language"):
        out += ["", _table(["language", "documents"], cats["language"]["top"][:15])]
    else:
        limitations.append("Languages are unknown (no language column).")
    out += ["", "## Evaluation contamination", ""]
    if cont:
        rows = [
            [k, v["examples"], v["contaminated"], f"{v['rate']:.1%}"] for k, v in cont["benchmarks"].items()
        ]
        out.append(
            f"{cont['n']}-gram overlap with the evaluation sets below (`gencommons data contamination`)."
        )
        out += ["", _table(["benchmark", "examples", "contaminated", "rate"], rows)]
    else:
        out.append(
            "Not checked: run `gencommons data contamination DATASET EVAL.jsonl` and rebuild the card."
        )
    out += ["", "## Known limitations", ""]
    limitations.append(
        "Quality filters are heuristics: they drop some good documents and keep some bad ones."
    )
    out += [f"- {x}" for x in limitations]
    readme = "\n".join(out) + "\n"
    return readme, croissant(ds, s, name=name, licenses=list(lic_counts))


def croissant(ds: Any, s: dict[str, Any], *, name: str, licenses: list[str]) -> dict[str, Any]:
    """Croissant 1.0 metadata: the Parquet files (with sha256) and one record set of the text columns."""
    files = []
    for f in ds.files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        files.append({
            "@type": "cr:FileObject", "@id": os.path.relpath(f, ds.path) if os.path.isdir(ds.path) else os.path.basename(f),
            "name": os.path.basename(f), "contentUrl": os.path.relpath(f, ds.path) if os.path.isdir(ds.path) else f,
            "encodingFormat": "application/x-parquet" if f.endswith(".parquet") else "application/jsonlines",
            "sha256": h.hexdigest(), "contentSize": f"{os.path.getsize(f)} B",
        })  # fmt: skip
    ref = {"fileObject": {"@id": files[0]["@id"]}}
    if len(files) > 1:  # the record set reads every file: a FileSet over them
        files.append({
            "@type": "cr:FileSet", "@id": "data-files", "name": "data-files", "includes": "data/*.parquet",
            "encodingFormat": files[0]["encodingFormat"],
        })  # fmt: skip
        ref = {"fileSet": {"@id": "data-files"}}
    fields = []
    for col in ds.columns:
        if col in ("id", "text", "source", "license", "lang", "language", "url"):
            fields.append({
                "@type": "cr:Field", "@id": f"documents/{col}", "name": col, "dataType": "sc:Text",
                "source": {**ref, "extract": {"column": col}},
            })  # fmt: skip
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": name,
        "description": f"{s['documents']:,} documents curated with gencommons.",
        "license": [HUB_LICENSES.get(k, k) for k in licenses] or "unknown",
        "distribution": files,
        "recordSet": [{"@type": "cr:RecordSet", "@id": "documents", "name": "documents", "field": fields}],
    }
