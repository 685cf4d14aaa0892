"""Reading and writing tables for the CLI and jobs, as streams of Arrow record batches, column-wise,
never row by row in Python.

In: Parquet and CSV files, or a directory of them (text files of one serial per line too, for
``jpki-fast check``), read batch by batch so memory stays bounded whatever the size of the input.
Out: Parquet, CSV or JSON lines by the file's extension, written to a hidden temporary file beside
the target and renamed into place only when complete, so an interrupted run never leaves a half
file under the name asked for.

>>> import pyarrow.parquet as pq
>>> pq.write_table(pa.table({"serial": ["01", "02"]}), tmp / "tableio-in.parquet")
>>> source = open_input(tmp / "tableio-in.parquet")
>>> with open_output(tmp / "tableio-out.csv") as out:
...     for batch in source.batches():
...         out.write(batch)
>>> (tmp / "tableio-out.csv").read_text().splitlines()
['"serial"', '"01"', '"02"']
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import JpkiFastError

#: Rows per record batch read from Parquet (CSV batches follow CSV_BLOCK_BYTES instead).
BATCH_ROWS = 1 << 20
CSV_BLOCK_BYTES = 16 << 20
INPUT_FORMATS = (".parquet", ".csv")
OUTPUT_FORMATS = (".parquet", ".csv", ".jsonl", ".ndjson")


class TableInputError(JpkiFastError, ValueError):
    """An input cannot be read: missing, unreadable, of an unknown format, or without a column
    that is needed. The message names the file (and the column)."""


class TableOutputError(JpkiFastError, ValueError):
    """An output cannot be written (unknown format, directory missing)."""


# --------------------------------------------------------------------------------------------
# Input


@dataclass
class InputSource:
    """An opened input: one file, or every Parquet/CSV file of a directory (recursively, in
    name order; hidden files and files starting with ``_``, such as Spark's ``_SUCCESS``, are
    skipped). Every file must have the first file's columns, in the same order.

    ``schema`` is the first file's schema; ``rows`` the total row count when known without
    reading the data (Parquet), else None; ``bytes`` the total size of the files.
    """

    path: Path
    files: list[Path]
    schema: pa.Schema
    rows: int | None
    bytes: int
    #: CSV lines that could not be parsed (wrong number of fields): (file, line number, or None
    #: where the parallel CSV reader cannot tell it), the first 20.
    skipped_lines: list[tuple[str, int | None]] = field(default_factory=list)
    skipped_count: int = 0
    _bytes_done: int = 0
    _text: bool = False

    @property
    def bytes_done(self) -> int:
        """Bytes of input consumed so far (for progress on CSV inputs, whose rows are not known)."""
        return self._bytes_done

    def batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The rows of every file, as record batches of the source's schema."""
        done = 0
        for path in self.files:
            size = path.stat().st_size
            for batch, consumed in _file_batches(path, self, batch_rows):
                self._bytes_done = done + consumed
                if batch.schema != self.schema:
                    batch = _conform(batch, self.schema, path)
                yield batch
            done += size
            self._bytes_done = done

    def require(self, *columns: str) -> None:
        """Raises :class:`TableInputError` naming the input when a column is missing."""
        missing = [c for c in columns if c not in self.schema.names]
        if missing:
            raise TableInputError(
                f"{self.files[0] if len(self.files) == 1 else self.path}: no {', '.join(repr(c) for c in missing)} "
                f"column (columns: {', '.join(self.schema.names) or 'none'})"
            )


def _format(path: Path, text_ok: bool) -> str:
    suffix = path.suffix.lower()
    if suffix in INPUT_FORMATS:
        return suffix
    if text_ok:
        return ".txt"
    raise TableInputError(
        f"{path}: unknown format {suffix or '(no extension)'!r} for an input; use .parquet or .csv (or a directory of them)"
    )


def open_input(path: str | Path, text_ok: bool = False) -> InputSource:
    """Opens a Parquet or CSV file, or a directory of them, for streaming.

    CSV columns are read as text, exactly as written (a customer id ``000123`` keeps its leading
    zeros). With ``text_ok``, a file of any other extension is read as text with one serial per
    line (column ``serial``). Raises :class:`TableInputError` naming the file when it is missing, unreadable or of an
    unknown format.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in INPUT_FORMATS
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not files:
            raise TableInputError(f"{path}: directory holds no .parquet or .csv files")
    elif path.is_file():
        files = [path]
    elif path.exists():
        raise TableInputError(f"{path}: not a regular file or directory")
    else:
        raise TableInputError(f"{path}: input not found")
    kinds = {_format(f, text_ok) for f in files}
    schema = _schema(files[0], _format(files[0], text_ok))
    rows: int | None = 0
    total = 0
    for f in files:
        total += f.stat().st_size
        if _format(f, text_ok) == ".parquet" and rows is not None:
            rows += _parquet(f).metadata.num_rows
        else:
            rows = None
    source = InputSource(path, files, schema, rows, total)
    source._text = ".txt" in kinds
    for f in files[1:]:
        other = _schema(f, _format(f, text_ok))
        if other.names != schema.names:
            raise TableInputError(f"{f}: columns differ from {files[0].name}'s ({', '.join(other.names)} vs {', '.join(schema.names)})")
    return source


def _parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, buffer_size=8 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise TableInputError(f"{path}: cannot be read as Parquet ({_short(exc)})") from None


def _csv_header(path: Path) -> list[str]:
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 16),
            parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise TableInputError(f"{path}: empty CSV file (not even a header line)") from None
        raise TableInputError(f"{path}: cannot be read as CSV ({_short(exc)})") from None
    except OSError as exc:
        raise TableInputError(f"{path}: cannot be read ({_short(exc)})") from None
    names = reader.schema.names
    reader.close()
    return names


def _schema(path: Path, kind: str) -> pa.Schema:
    if kind == ".parquet":
        return _parquet(path).schema_arrow
    if kind == ".csv":
        return pa.schema([(name, pa.string()) for name in _csv_header(path)])
    return pa.schema([("serial", pa.string())])


def _short(exc: BaseException) -> str:
    """An Arrow error's first line, without the row text it may quote (personal data)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text.startswith("CSV parse error"):  # "CSV parse error: Expected 3 columns, got 2: <the row>"
        text = ": ".join(text.split(": ")[:2])
    return text[:200]


def _file_batches(path: Path, source: InputSource, batch_rows: int) -> Iterator[tuple[pa.RecordBatch, int]]:
    kind = path.suffix.lower() if path.suffix.lower() in INPUT_FORMATS else ".txt"
    if kind == ".parquet":
        f = _parquet(path)
        row_groups = f.metadata.num_row_groups
        done = 0
        try:
            for batch in f.iter_batches(batch_size=batch_rows, use_threads=True):
                done += batch.num_rows
                yield batch, int(path.stat().st_size * done / max(1, f.metadata.num_rows)) if row_groups else 0
        except (pa.ArrowException, OSError) as exc:
            raise TableInputError(f"{path}: unreadable Parquet data after row {done:,} ({_short(exc)})") from None
        return
    import pyarrow.csv as pacsv

    if kind == ".csv":
        names = _csv_header(path)
        read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    else:
        read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, column_names=["serial"])
        convert = pacsv.ConvertOptions(column_types={"serial": pa.string()})

    def skip(row) -> str:
        # A line with the wrong number of fields: counted and named by number, never quoted.
        source.skipped_count += 1
        if len(source.skipped_lines) < 20:
            source.skipped_lines.append((str(path), int(row.number) if row.number is not None and row.number >= 0 else None))
        return "skip"

    parse = pacsv.ParseOptions(invalid_row_handler=skip) if kind == ".csv" else pacsv.ParseOptions(delimiter="\t", quote_char=False)
    handle = pa.OSFile(str(path), "rb")
    rows = 0
    try:
        try:
            reader = pacsv.open_csv(handle, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            rows += batch.num_rows
            yield batch, handle.tell()
    except (pa.ArrowException, OSError) as exc:
        raise TableInputError(f"{path}: unreadable CSV after row {rows:,} ({_short(exc)})") from None
    finally:
        handle.close()


def _conform(batch: pa.RecordBatch, schema: pa.Schema, path: Path) -> pa.RecordBatch:
    """A batch of another file of a directory, cast to the first file's schema."""
    try:
        return batch.cast(schema)
    except (pa.ArrowException, ValueError) as exc:
        raise TableInputError(f"{path}: column types differ from the directory's first file ({_short(exc)})") from None


def read_serial_file(path: Path) -> pa.Table:
    """A table with a 'serial' column (and maybe 'issuer') from a text, CSV or Parquet file,
    read whole (small inputs only; large ones stream with :func:`open_input`)."""
    source = open_input(path, text_ok=True)
    batches = list(source.batches())
    return pa.Table.from_batches(batches, schema=source.schema)


# --------------------------------------------------------------------------------------------
# Output


def _time_text(column: pa.Array) -> pa.Array:
    return pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")


def _plain(table: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Dictionary columns decoded and timestamps as ISO 8601 text, for CSV and JSON; binary
    columns (DER certificates) as base64 text."""
    columns = []
    for i in range(len(table.schema.names)):
        col = table.column(i)
        t = col.type
        if pa.types.is_dictionary(t):
            col = col.cast(t.value_type)
            t = col.type
        if pa.types.is_timestamp(t):
            col = _time_text(col)
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
            col = _base64(col)
        columns.append(col)
    cls = pa.RecordBatch if isinstance(table, pa.RecordBatch) else pa.Table
    return cls.from_arrays(columns, names=table.schema.names)


def _base64(column) -> pa.Array:
    import base64

    values = column.to_pylist()  # only for binary columns kept in text output (rare; documented)
    return pa.array([None if v is None else base64.b64encode(v).decode("ascii") for v in values], pa.string())


def jsonl_lines(table: pa.Table | pa.RecordBatch) -> pa.Array:
    """One JSON object per row, built column-wise with Arrow compute (no per-row Python)."""

    def lit(text: str) -> pa.Scalar:
        return pa.scalar(text, pa.large_string())

    table = _plain(table)
    parts: list = []
    for i, name in enumerate(table.schema.names):
        col = table.column(i)
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            escaped = col.cast(pa.large_string())
            for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
                escaped = pc.replace_substring(escaped, old, new)
            value = pc.binary_join_element_wise(lit('"'), escaped, lit('"'), lit(""))
        elif pa.types.is_boolean(t):
            value = pc.if_else(col, lit("true"), lit("false"))
        else:
            value = pc.cast(col, pa.large_string())
        parts.append(lit(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":"))
        parts.append(pc.fill_null(value, lit("null")))
    parts.append(lit("}"))
    if len(table.schema.names) == 0:
        return pa.array(["{}"] * table.num_rows, pa.large_string())
    return pc.binary_join_element_wise(*parts, lit(""))


def _lines_buffer(lines) -> pa.Buffer:
    """The rows of a JSON lines array as one newline-terminated UTF-8 buffer (no per-row Python)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not len(lines):
        return pa.py_buffer(b"")
    joined = pc.binary_join_element_wise(lines, pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64, count=joined.offset + len(joined) + 1)
    start, end = int(offsets[joined.offset]), int(offsets[-1])
    return joined.buffers()[2].slice(start, end - start)


class ResultWriter:
    """Writes record batches to ``path`` in the format its extension names, through a hidden
    temporary file beside it that :meth:`commit` fsyncs and renames into place; :meth:`abort`
    (or leaving the ``with`` block by an exception) removes it, leaving no file at ``path``.
    ``path=None`` writes JSON lines to stdout as they come.

    >>> with open_output(tmp / "writer.jsonl") as out:
    ...     out.write(pa.record_batch({"serial": ["01"], "status": ["good"]}))
    >>> (tmp / "writer.jsonl").read_text()
    '{"serial":"01","status":"good"}\\n'
    """

    def __init__(self, path: str | Path | None, parquet_options: dict | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.rows = 0
        self._writer = None
        self._file = None
        self._schema: pa.Schema | None = None
        self._parquet_options = parquet_options or {}
        self._hint: pa.Schema | None = None
        if self.path is None:
            self.format = ".jsonl"
            self.tmp = None
            return
        self.format = self.path.suffix.lower()
        if self.format not in OUTPUT_FORMATS:
            raise TableOutputError(
                f"{self.path}: unknown format {self.format or '(no extension)'!r} for the output; use .parquet, .csv or .jsonl"
            )
        if not self.path.parent.is_dir():
            raise TableOutputError(f"{self.path}: directory {self.path.parent} does not exist")
        if self.path.is_dir():
            raise TableOutputError(f"{self.path}: is a directory")
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")

    def __enter__(self) -> "ResultWriter":
        return self

    def expect(self, schema: pa.Schema) -> None:
        """The columns to give the output if no batch is written (an empty input)."""
        self._hint = schema

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _open(self, schema: pa.Schema) -> None:
        self._schema = schema
        if self.path is None:
            return
        if self.format == ".parquet":
            import pyarrow.parquet as pq

            options = {"compression": "snappy", **self._parquet_options}
            self._writer = pq.ParquetWriter(str(self.tmp), schema, **options)
        elif self.format == ".csv":
            import pyarrow.csv as pacsv

            self._file = pa.OSFile(str(self.tmp), "wb")
            self._writer = pacsv.CSVWriter(self._file, _plain(schema.empty_table()).schema)
        else:
            self._file = open(self.tmp, "wb")  # noqa: SIM115 - held across write() calls, closed by commit/abort

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self._schema is None:
            self._open(batch.schema)
        self.rows += batch.num_rows
        if self.path is None:
            sys.stdout.buffer.write(_lines_buffer(jsonl_lines(batch)))
            return
        if self.format == ".parquet":
            self._writer.write(batch)
        elif self.format == ".csv":
            self._writer.write(_plain(batch))
        else:
            self._file.write(_lines_buffer(jsonl_lines(batch)))

    def commit(self) -> None:
        """Finishes the file and renames it into place (an empty output gets the columns given
        to :meth:`expect`)."""
        if self._schema is None:
            self._open(self._hint if self._hint is not None else pa.schema([]))
        if self.path is None:
            sys.stdout.flush()
            return
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Discards what was written; nothing is left at the target or the temporary path."""
        for closer in (self._writer, self._file):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001 - cleanup of a failed write; the cause is raised
                pass
        if self.tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


def open_output(path: str | Path | None, parquet_options: dict | None = None) -> ResultWriter:
    """A :class:`ResultWriter` for ``path`` (.parquet, .csv, .jsonl; None: JSON lines on stdout)."""
    return ResultWriter(path, parquet_options)


def write_results(table: pa.Table, out: str | None) -> None:
    """Writes a whole table (see :class:`ResultWriter`)."""
    with open_output(out) as writer:
        writer.expect(table.schema)
        for batch in table.to_batches():
            writer.write(batch)
