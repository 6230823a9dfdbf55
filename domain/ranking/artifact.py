"""A trained funnel as one versioned file: a zip of `manifest.json` (format, version, feature
names, the sources and their settings, the validation figures), `arrays.npz` (every fitted
array, no pickles: loading never runs code) and one LightGBM text model per action.

`load` refuses a file of another FORMAT or one that does not hold together (ArtifactError),
so a corrupt or incompatible upload never replaces the model being served.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp

from domain.ranking.log import InteractionLog
from domain.ranking.ranker import Funnel
from domain.ranking.sources import Source
from domain.ranking.sources.coengagement import CoEngagement
from domain.ranking.sources.factors import Factors
from domain.ranking.sources.fresh import Fresh
from domain.ranking.sources.hashtags import Hashtags
from domain.ranking.sources.popular import PopularNow

FORMAT = 1
SOURCES: dict[str, type] = {s.name: s for s in (CoEngagement, Factors, Hashtags, PopularNow, Fresh)}


class ArtifactError(ValueError):
    pass


def dump(funnel: Funnel, *, version: str, metrics: dict[str, Any] | None = None) -> bytes:
    log = funnel.log
    arrays: dict[str, np.ndarray] = {
        "item_authors": log.item_authors,
        "item_counts": funnel.item_counts,
        "user_counts": funnel.user_counts,
        "now": funnel.now,
        "item_created": funnel.item_created,
        "item_kinds": funnel.item_kinds,
        "author_counts": funnel.author_counts,
        "seen_data": funnel.seen.data,
        "seen_indices": funnel.seen.indices,
        "seen_indptr": funnel.seen.indptr,
    }
    sources = []
    for n, source in enumerate(funnel.sources):
        sources.append({"kind": source.name, "settings": dataclasses.asdict(source)})  # type: ignore[call-overload]
        for key, value in source.state().items():
            arrays[f"source{n}:{key}"] = value
    manifest = {
        "format": FORMAT,
        "version": version,
        "seed": funnel.seed,
        "per_source": funnel.per_source,
        "feature_names": funnel.feature_names,
        "sources": sources,
        "actions": sorted(funnel.models),
        "metrics": metrics or {},
        "user_ids": log.user_ids,
        "item_ids": log.item_ids,
        "author_ids": log.author_ids,
        "kind_ids": funnel.kind_ids,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        packed = io.BytesIO()
        np.savez(packed, **arrays)  # type: ignore[arg-type]
        archive.writestr("arrays.npz", packed.getvalue())
        for action, model in funnel.models.items():
            archive.writestr(f"model_{action}.txt", model.model_to_string())
    return buffer.getvalue()


def manifest(blob: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            data = json.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ArtifactError(f"not a ranking model: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ArtifactError(f"model format {found!r}, this version reads {FORMAT}")
    return data


def load(blob: bytes) -> tuple[Funnel, dict[str, Any]]:
    meta = manifest(blob)
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            with np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
            models = {
                a: lgb.Booster(model_str=archive.read(f"model_{a}.txt").decode())
                for a in meta["actions"]
            }
        sources: list[Source] = []
        for n, spec in enumerate(meta["sources"]):
            source = SOURCES[spec["kind"]](**spec["settings"])
            prefix = f"source{n}:"
            source.restore({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
            sources.append(source)
        n_users, n_items = len(meta["user_ids"]), len(meta["item_ids"])
        seen = sp.csr_matrix(
            (arrays["seen_data"], arrays["seen_indices"], arrays["seen_indptr"]),
            shape=(n_users, n_items),
        )
        funnel = Funnel(seed=meta["seed"], per_source=meta["per_source"], sources=sources)
        funnel.models = models
        empty = np.empty(0, dtype=np.int32)
        funnel.use_log(InteractionLog(
            users=empty, items=empty, times=np.empty(0), weights=np.empty(0, np.float32),
            user_ids=meta["user_ids"], item_ids=meta["item_ids"],
            item_authors=arrays["item_authors"], author_ids=meta["author_ids"],
        ))  # fmt: skip
        funnel.item_counts, funnel.user_counts = arrays["item_counts"], arrays["user_counts"]
        funnel.now, funnel.seen = arrays["now"], seen
        funnel.item_created = arrays["item_created"]
        funnel.item_kinds, funnel.author_counts = arrays["item_kinds"], arrays["author_counts"]
        funnel.kind_ids = list(meta["kind_ids"])
    except ArtifactError:
        raise
    except Exception as error:  # a damaged file fails in many ways; all of them mean "no"
        raise ArtifactError(f"damaged ranking model: {type(error).__name__}: {error}") from None
    if funnel.feature_names != meta["feature_names"]:
        raise ArtifactError("the model's features are not the ones this version computes")
    return funnel, meta
