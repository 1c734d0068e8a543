"""Great Expectations for LG-DATA: build the suite, run it through a checkpoint on an
ephemeral context (no files, analytics and progress bars off), and match each result to its
expectation by type and stable id, never by position (GX returns results out of order).

GX is imported here only, inside functions: its import costs seconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifegate.core._yamlio import read_json
from lifegate.core.errors import ConfigError, EvidenceError
from lifegate.gates._data_load import Dataset, check_columns

__all__ = ["Expect", "Outcome", "expects_from_settings", "expects_from_suite", "run_suite"]

META_ID = "lifegate_id"
COLUMN_KEYS = ("column", "column_A", "column_B")


@dataclass(frozen=True)
class Expect:
    """One expectation with its stable id and whether its failure blocks."""

    key: str
    type: str
    kwargs: dict[str, Any]
    blocking: bool = True


@dataclass
class Outcome:
    """The result of one expectation, matched by type and id."""

    expect: Expect
    success: bool
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


def stable_id(type_: str, kwargs: dict[str, Any]) -> str:
    """Derived id: the type and a digest of the canonical kwargs."""
    canon = json.dumps(kwargs, sort_keys=True, separators=(",", ":"), default=str)
    return f"{type_}:{hashlib.sha256(canon.encode()).hexdigest()[:12]}"


def _unique(expects: list[Expect], where: str) -> list[Expect]:
    seen: set[str] = set()
    for e in expects:
        if e.key in seen:
            raise ConfigError(f"two expectations share the id {e.key!r}", where=where,
                              fix="give each expectation its own id")
        seen.add(e.key)
    return expects


def expects_from_settings(items: list[dict[str, Any]], where: str) -> list[Expect]:
    """Expectations written in the policy: ``{type, kwargs, id?, severity}``."""
    return _unique([Expect(key=i.get("id") or stable_id(i["type"], i["kwargs"]),
                           type=i["type"], kwargs=i["kwargs"],
                           blocking=i["severity"] == "blocking") for i in items], where)


def expects_from_suite(path: Path, warning_only: set[str]) -> tuple[str, list[Expect]]:
    """A GX ExpectationSuite JSON file. Ids: ``meta.lifegate_id``, then GX's ``id``, then
    derived. An expectation whose id or type is in ``warning_only`` does not block."""
    data = read_json(path, "expectation suite", fix="check gates.LG-DATA.settings.suite or "
                     "--suite; export a suite as JSON with ExpectationSuite.to_json_dict()")
    items = data.get("expectations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(
            i.get("type"), str) for i in items):
        raise ConfigError(f"{path} is not a GX expectation suite: it needs a list "
                          "'expectations' of {type, kwargs}", where=str(path))
    expects = []
    for item in items:
        kwargs = dict(item.get("kwargs") or {})
        key = str((item.get("meta") or {}).get(META_ID) or item.get("id")
                  or stable_id(item["type"], kwargs))
        expects.append(Expect(key=key, type=item["type"], kwargs=kwargs,
                              blocking=not ({key, item["type"]} & warning_only)))
    return str(data.get("name") or path.stem), _unique(expects, str(path))


def referenced_columns(expects: list[Expect]) -> list[str]:
    """Columns the expectations read (table-level column-set expectations excluded)."""
    cols: list[str] = []
    for e in expects:
        cols += [e.kwargs[k] for k in COLUMN_KEYS if isinstance(e.kwargs.get(k), str)]
        if not e.type.startswith("expect_table_") and isinstance(e.kwargs.get("column_list"),
                                                                   list):
            cols += [str(c) for c in e.kwargs["column_list"]]
    return list(dict.fromkeys(cols))


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False),
                               store_backend_defaults=InMemoryStoreBackendDefaults())
    return gx.get_context(mode="ephemeral", project_config=config)


def build_suite(name: str, expects: list[Expect], where: str) -> Any:
    """A GX suite; each expectation carries its id in ``meta``. Unknown types or kwargs
    are a ConfigError naming the expectation."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for e in expects:
        config = {"type": e.type, "kwargs": e.kwargs, "meta": {META_ID: e.key}}
        try:
            suite.add_expectation_configuration(_configuration(config))
        except Exception as exc:  # GX raises pydantic and its own errors for bad configs
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigError(f"expectation {e.key} ({e.type}) is not valid: "
                              f"{type(exc).__name__}: {first}", where=where,
                              fix="check the expectation type and its kwargs against the "
                              "GX expectation gallery") from None
    return suite


def _configuration(config: dict[str, Any]) -> Any:
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    conf = ExpectationConfiguration(**config)
    conf.to_domain_obj()  # raises for an unknown type or bad kwargs
    return conf


def _batch(ctx: Any, data: Dataset) -> tuple[Any, dict[str, Any]]:
    """Batch definition and batch parameters for the dataset's engine."""
    spec = data.spec
    if data.engine == "spark":
        ds = ctx.data_sources.add_spark("lifegate")
        return (ds.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all"),
                {"dataframe": data.spark_frame})
    if spec.url is not None:
        import warnings

        with warnings.catch_warnings():  # the generic SQL source works for every dialect
            warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
            ds = ctx.data_sources.add_sql("lifegate", connection_string=spec.url)
        schema = {"schema_name": spec.schema} if spec.schema else {}
        asset = ds.add_table_asset("data", table_name=spec.table, **schema)
        return asset.add_batch_definition_whole_table("all"), {}
    ds = ctx.data_sources.add_pandas("lifegate")
    return (ds.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all"),
            {"dataframe": data.frame})


def run_suite(data: Dataset, name: str, expects: list[Expect], where: str,
              result_format: str = "SUMMARY") -> tuple[dict[str, Any], list[Outcome]]:
    """Validate ``data`` through a GX checkpoint; return GX's result dict and the outcomes
    in the order of ``expects``."""
    import great_expectations as gx

    check_columns(data.frame, referenced_columns(expects), "the expectation suite", where)
    ctx = _context()
    suite = ctx.suites.add(build_suite(name, expects, where))
    batch_def, params = _batch(ctx, data)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="lifegate", data=batch_def,
                                                                suite=suite))
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(
        name="lifegate", validation_definitions=[vd], actions=[],
        result_format={"result_format": result_format}))
    try:
        res = checkpoint.run(batch_parameters=params)
    except Exception as exc:  # GX wraps engine errors in many types
        raise EvidenceError(f"GX could not validate {data.name}: {type(exc).__name__}: {exc}",
                            where=data.name, fix="check the dataset and the suite") from None
    validation = next(iter(res.run_results.values())).to_json_dict()
    return validation, match_results(validation, expects, data.name)


def _error_message(info: dict[str, Any]) -> str | None:
    """GX's exception info is flat, or keyed by metric; the first message, if any raised."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def match_results(validation: dict[str, Any], expects: list[Expect],
                  where: str) -> list[Outcome]:
    """Outcomes keyed by (type, id); a missing or unknown result is an EvidenceError."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for r in validation.get("results", []):
        conf = r.get("expectation_config") or {}
        key = (str(conf.get("type")), str((conf.get("meta") or {}).get(META_ID)))
        if key in by_key or key[1] not in {e.key for e in expects}:
            raise EvidenceError(f"GX returned an unexpected result for {key[0]} {key[1]}",
                                where=where, fix="report this: results must match the suite")
        by_key[key] = r
    outcomes = []
    for e in expects:
        r = by_key.get((e.type, e.key))
        if r is None:
            raise EvidenceError(f"GX returned no result for expectation {e.key} ({e.type})",
                                where=where, fix="report this: results must match the suite")
        error = _error_message(r.get("exception_info") or {})
        outcomes.append(Outcome(e, bool(r.get("success")) and error is None, error,
                                dict(r.get("result") or {})))
    return outcomes
