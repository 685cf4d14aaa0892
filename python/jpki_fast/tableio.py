"""Reading and writing tables for the CLI and jobs: serial lists in (text, CSV, Parquet) and
results out (Parquet, CSV, JSON lines), column-wise with Arrow, never row by row in Python."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


def read_serial_file(path: Path) -> pa.Table:
    """A table with a 'serial' column (and maybe 'issuer') from a text, CSV or Parquet file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: input file not found")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    import pyarrow.csv as pacsv

    if suffix == ".csv":
        header = path.open(encoding="utf-8", errors="replace").readline()
        names = [c.strip().strip('"') for c in header.split(",")]
        types = {c: pa.string() for c in ("serial", "issuer") if c in names}
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["serial"]),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={"serial": pa.string()}),
    )




def _time_text(column: pa.Array) -> pa.Array:
    return pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")


def jsonl_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row, built column-wise with Arrow compute (no per-row Python)."""

    def lit(text: str) -> pa.Scalar:
        return pa.scalar(text, pa.large_string())

    parts: list = []
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_timestamp(col.type):
            col = _time_text(col)
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            escaped = pc.replace_substring(pc.replace_substring(col.cast(pa.large_string()), "\\", "\\\\"), '"', '\\"')
            value = pc.binary_join_element_wise(lit('"'), escaped, lit('"'), lit(""))
        elif pa.types.is_boolean(t):
            value = pc.if_else(col, lit("true"), lit("false"))
        else:
            value = pc.cast(col, pa.large_string())
        parts.append(lit(("{" if i == 0 else ",") + json.dumps(name) + ":"))
        parts.append(pc.fill_null(value, lit("null")))
    parts.append(lit("}"))
    return pc.binary_join_element_wise(*parts, lit(""))


def write_results(table: pa.Table, out: str | None) -> None:
    if out is None:
        lines = jsonl_lines(table)
        for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
            sys.stdout.write("\n".join(chunk.to_pylist()))
            if len(chunk):
                sys.stdout.write("\n")
        return
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        converted = table
        for i, name in enumerate(table.column_names):
            t = table.column(name).type
            if pa.types.is_dictionary(t):
                converted = converted.set_column(i, name, table.column(name).cast(t.value_type))
            if pa.types.is_timestamp(t):
                converted = converted.set_column(i, name, _time_text(table.column(name)))
        pacsv.write_csv(converted, path)
    elif suffix in (".jsonl", ".ndjson"):
        lines = jsonl_lines(table)
        with open(path, "w", encoding="utf-8") as f:
            for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
                if len(chunk):
                    f.write("\n".join(chunk.to_pylist()))
                    f.write("\n")
    else:
        raise ValueError(f"--out {out}: unknown format; use .parquet, .csv or .jsonl")
