"""Datasets for LG-DATA and LG-DRIFT: CSV or Parquet files read with pandas, a SQL table
(``URL#table``), or a file read with Spark. Each load yields a pandas view for the
vectorised checks, the source GX validates, and the sha256 the verdict is about.

A file's digest is the sha256 of its bytes, and its subject name its path relative to the
policy's folder, as every gate names and digests a file (:mod:`lifegate.core.hashing`). A SQL
table's digest is computed over its content as read (column names and types, then each
column's values and null mask in order), since a table has no bytes of its own; its subject
is named ``<role>:<redacted URL>#<table>``.
"""

from __future__ import annotations

import hashlib
import importlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lifegate.core.errors import ConfigError, EvidenceError, MissingExtraError
from lifegate.core.hashing import subject_digest, subject_name

__all__ = ["Dataset", "DatasetSpec", "check_columns", "frame_digest", "load_dataset",
           "parse_spec", "same_columns"]

Engine = Literal["pandas", "spark"]
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is: a local file, or a table behind a SQLAlchemy URL."""

    display: str
    path: Path | None = None
    url: str | None = None
    table: str | None = None
    schema: str | None = None
    subject: str | None = None  # a file's subject name

    @property
    def kind(self) -> str:
        return "sql" if self.url else FORMATS[self.path.suffix.lower()] if self.path else "?"


@dataclass
class Dataset:
    """A loaded dataset: the pandas view, what GX validates, and its digest."""

    spec: DatasetSpec
    frame: Any  # pandas.DataFrame
    engine: str
    spark_frame: Any = None
    _digest: Future[str] | str | None = None

    @property
    def name(self) -> str:
        return self.spec.display

    def subject_name(self, role: str) -> str:
        """A file's path as every gate names it; a table's ``<role>:<display>``."""
        return self.spec.subject or f"{role}:{self.spec.display}"

    @property
    def sha256(self) -> str:
        """The digest; for files it is computed in a thread while the data is checked."""
        if isinstance(self._digest, Future):
            self._digest = self._digest.result()
        if self._digest is None:
            self._digest = frame_digest(self.frame)
        return self._digest


def _redact(url: str) -> str:
    """A URL without its password, for messages and subject names."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy reads: show the scheme only
        return url.split("://", 1)[0] + "://..."


def parse_spec(value: str, base: Path) -> DatasetSpec:
    """``data.csv``, ``data.parquet`` or ``postgresql+psycopg://host/db#schema.table``."""
    if "://" in value:
        url, _, table = value.partition("#")
        if not table:
            raise ConfigError(f"SQL dataset {_redact(url)} names no table",
                              fix="append the table after '#': URL#table or URL#schema.table")
        schema, _, name = table.rpartition(".")
        return DatasetSpec(display=f"{_redact(url)}#{table}", url=url, table=name,
                           schema=schema or None)
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"cannot tell the format of {value}", where=str(path),
                          fix="use a .csv, .parquet or .pq file, or URL#table for SQL")
    try:
        display = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        display = value
    return DatasetSpec(display=display, path=path, subject=subject_name(path, base))


def load_dataset(spec: DatasetSpec, engine: Engine = "pandas",
                 pool: ThreadPoolExecutor | None = None) -> Dataset:
    """Read the dataset; unreadable or empty input is an EvidenceError naming it."""
    if spec.path is not None and not spec.path.is_file():
        raise EvidenceError(f"dataset not found: {spec.path}", where=str(spec.path),
                            fix="check the dataset path on the command line or in the policy")
    if engine == "spark":
        data = _load_spark(spec)
    elif spec.url is not None:
        data = Dataset(spec, _read_sql(spec), engine)
    else:
        data = Dataset(spec, _read_file(spec), engine)
    if len(data.frame) == 0 or len(data.frame.columns) == 0:
        raise EvidenceError(f"dataset {spec.display} is empty", where=spec.display,
                            fix="check that the right file was produced; an empty dataset "
                            "cannot be validated")
    if spec.path is not None:
        path = spec.path
        data._digest = pool.submit(subject_digest, path) if pool else subject_digest(path)
    return data


def _read_file(spec: DatasetSpec) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    assert spec.path is not None
    try:
        if spec.kind == "csv":
            return pd.read_csv(spec.path)
        return pd.read_parquet(spec.path)
    except pd.errors.EmptyDataError:
        raise EvidenceError(f"dataset {spec.display} is empty", where=str(spec.path),
                            fix="check that the right file was produced") from None
    except Exception as exc:  # pandas and pyarrow raise many types for corrupt input
        raise EvidenceError(f"cannot read {spec.kind} dataset {spec.display}: "
                            f"{type(exc).__name__}: {exc}", where=str(spec.path),
                            fix=f"check that the file is valid {spec.kind}") from None


def _read_sql(spec: DatasetSpec) -> Any:
    import pandas as pd
    import sqlalchemy as sa

    assert spec.url is not None
    engine = sa.create_engine(spec.url)
    try:
        with engine.connect() as conn:
            return pd.read_sql_table(spec.table, conn, schema=spec.schema)
    except ValueError as exc:  # pandas: table not found
        raise EvidenceError(f"SQL dataset {spec.display}: {exc}", where=spec.display,
                            fix="check the table name after '#'") from None
    except sa.exc.SQLAlchemyError as exc:
        raise EvidenceError(f"cannot read SQL dataset {spec.display}: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                            where=spec.display, fix="check the URL, the database server "
                            "and the table name") from None
    finally:
        engine.dispose()


def _load_spark(spec: DatasetSpec) -> Dataset:
    """Read a file with Spark; the pandas view (for the vectorised checks) is collected."""
    try:
        sql = importlib.import_module("pyspark.sql")
    except ImportError:
        raise MissingExtraError("spark", "pyspark") from None
    if spec.path is None:
        raise ConfigError("the Spark engine reads files; a SQL table is validated with the "
                          "pandas engine (GX runs the expectations in the database)",
                          where=spec.display, fix="set engine: pandas for URL#table datasets")
    session = sql.SparkSession.builder.getOrCreate()
    try:
        reader = session.read.option("header", "true").option("inferSchema", "true")
        sdf = reader.csv(str(spec.path)) if spec.kind == "csv" else reader.parquet(
            str(spec.path))
        frame = sdf.toPandas()
    except Exception as exc:  # Spark raises its own analysis and IO errors
        raise EvidenceError(f"Spark cannot read {spec.display}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}",
                            where=str(spec.path), fix="check the file") from None
    return Dataset(spec, frame, "spark", spark_frame=sdf)


def frame_digest(frame: Any) -> str:
    """sha256 over column names, dtypes, and each column's values and null mask, in order."""
    import numpy as np

    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    for _, col in frame.items():
        mask = col.isna().to_numpy()
        h.update(np.packbits(mask).tobytes())
        if col.dtype.kind in "biufcmM":
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
        else:
            h.update("\x1f".join(col.astype(str).tolist()).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def check_columns(frame: Any, wanted: list[str], what: str, where: str) -> None:
    """Every name in ``wanted`` is a column of ``frame``; else a ConfigError naming them."""
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what} names {'a column' if len(missing) == 1 else 'columns'} "
                          f"the dataset does not have: {', '.join(map(str, missing))}",
                          where=where, fix="the dataset has: "
                          + ", ".join(map(str, list(frame.columns)[:50])))


def same_columns(data: Dataset, ref: Dataset) -> None:
    """The reference must have the dataset's columns; else an EvidenceError naming them."""
    have, ref_cols = list(map(str, data.frame.columns)), list(map(str, ref.frame.columns))
    if set(have) == set(ref_cols):
        return
    raise EvidenceError(
        f"reference {ref.name} has different columns from {data.name}: missing "
        f"{sorted(set(have) - set(ref_cols)) or 'none'}, extra "
        f"{sorted(set(ref_cols) - set(have)) or 'none'}", where=ref.name,
        fix="compare against a reference with the same schema")
