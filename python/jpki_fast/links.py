"""Serial links (新旧シリアル番号紐付け): which new serial replaced an old one at renewal.

When an authentication certificate is renewed, J-LIS can tell a verifier which new serial
replaced the old one, so the verifier keeps recognising its customer. Links are imported into
the store (``jpki-fast links import``), versioned with its generations, and followed through
whole chains of renewals: A -> B -> C resolves A to C. A link file is CSV or Parquet with the
columns ``issuer`` (alias or key identifier), ``old_serial`` and ``new_serial`` (hex, or
integers in Parquet).

Refused, with the offending row named: unknown issuers, invalid serials, an old serial linked
to two different new serials, and cycles (A -> B -> A).

>>> copy = fresh_store()                       # holds the links 0A -> 0B -> 0C
>>> import_links(copy, data_dir / "renewals-more.csv")   # 0C -> 0D
{'imported': 1, 'links': 3, 'generation': 4}
>>> Store(copy).latest_serial(["0A", "0B", "99"], "auth_ca_2023").to_pylist()
['0D', '0D', '99']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import JpkiFastError, SerialFormatError
from .serials import normalize, to_hex
from .publish import derive_generation, store_lock
from .store import Store
from .store_format import LINKS_FILE, LINKS_SCHEMA, read_current


class LinkError(JpkiFastError, ValueError):
    """A link file cannot be imported (names the row and the problem)."""


def read_link_file(path: str | Path) -> pa.Table:
    """The (issuer, old_serial, new_serial) columns of a CSV or Parquet link file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: link file not found")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv

        types = {c: pa.string() for c in ("issuer", "old_serial", "new_serial")}
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    missing = [c for c in ("issuer", "old_serial", "new_serial") if c not in table.column_names]
    if missing:
        raise LinkError(f"{path}: missing column(s) {', '.join(missing)} (columns: {', '.join(table.column_names)})")
    return table.select(["issuer", "old_serial", "new_serial"])


def _canonical(column: pa.ChunkedArray, what: str, source: str) -> pa.Array:
    try:
        return to_hex(normalize(column))
    except SerialFormatError as exc:
        raise LinkError(f"{source}: {what}: {exc}".replace("serial #", "row #")) from None


def resolve(old: pa.Array, new: pa.Array, source: str = "links") -> pa.Array:
    """The end of each link's chain of renewals (``latest_serial``), for links of one issuer.

    Serials are mapped to node ids; pointer jumping (each round follows twice as far) finds
    every chain's end in O(n log n). A link that still points on after enough rounds to cross
    any acyclic chain lies on a cycle, which is refused.
    """
    n = len(old)
    if n == 0:
        return pa.array([], pa.large_string())
    nodes = pc.dictionary_encode(pa.concat_arrays([old, new]))
    ids = nodes.indices.to_numpy().astype(np.int64)
    old_ids, new_ids = ids[:n], ids[n:]
    size = len(nodes.dictionary)
    nxt = np.arange(size, dtype=np.int64)  # a chain's end points at itself
    nxt[old_ids] = new_ids
    has_link = np.zeros(size, dtype=bool)
    has_link[old_ids] = True
    jump = nxt.copy()
    for _ in range(math.ceil(math.log2(size + 1)) + 1):
        jump = jump[jump]
    on_cycle = has_link[jump]
    if on_cycle.any():
        start = int(np.flatnonzero(on_cycle)[0])
        members, x = [], start
        for _ in range(size):
            members.append(nodes.dictionary[x].as_py())
            x = nxt[x]
            if x == start or len(members) > 5:
                break
        raise LinkError(f"{source}: links form a cycle ({' -> '.join(members)} -> ...); refused")
    return nodes.dictionary.take(pa.array(jump[old_ids]))


def import_links(store_dir: str | Path, path: str | Path) -> dict[str, Any]:
    """Adds the links of a CSV/Parquet file to the store's links and publishes a new
    generation (the revocation data is shared with the current one, not copied).

    Returns ``{"imported", "links", "generation"}``. Nothing is published if any row is refused.
    """
    root = Path(store_dir)
    source = str(path)
    table = read_link_file(path)
    with store_lock(root):
        if read_current(root) is None:
            raise LinkError(f"{root}: nothing published yet; ingest CRLs before importing links")
        store = Store(root)
        issuers = table.column("issuer")
        if issuers.null_count:
            row = issuers.is_null().index(True).as_py()
            raise LinkError(f"{source}: row #{row}: missing issuer")
        names = pc.unique(issuers).to_pylist()
        key_of = {}
        for name in names:
            index = store.issuer_index(str(name))
            if index is None:
                row = pc.index(issuers, name).as_py()
                known = ", ".join(i.alias for i in store.issuers())
                raise LinkError(f"{source}: row #{row}: issuer {name!r} is not in the store (known: {known})")
            key_of[name] = store.issuer_table.column("key_id")[index].as_py()
        encoded = pc.dictionary_encode(issuers).combine_chunks()
        key_ids = pa.array([key_of[v] for v in encoded.dictionary.to_pylist()], pa.string())
        incoming = pa.table(
            {
                "issuer": key_ids.take(encoded.indices),
                "old_serial": _canonical(table.column("old_serial"), "old_serial", source),
                "new_serial": _canonical(table.column("new_serial"), "new_serial", source),
            }
        )
        same = pc.equal(incoming.column("old_serial"), incoming.column("new_serial"))
        if pc.any(same).as_py():
            row = same.index(True).as_py()
            raise LinkError(f"{source}: row #{row}: a serial cannot replace itself")
        existing = store.links().select(["issuer", "old_serial", "new_serial"])
        merged = pa.concat_tables([existing, incoming.cast(existing.schema)])
        links = _merge(merged, source, len(existing))
        generation = derive_generation(
            root, store, {LINKS_FILE: links}, {"links_imported": incoming.num_rows, "source": Path(source).name}
        )
        return {"imported": incoming.num_rows, "links": links.num_rows, "generation": generation}


def _merge(merged: pa.Table, source: str, n_existing: int) -> pa.Table:
    """Deduplicates, refuses conflicting links, resolves chains; sorted by issuer, old serial."""
    tables = []
    for issuer in pc.unique(merged.column("issuer")).to_pylist():
        sub = merged.filter(pc.equal(merged.column("issuer"), issuer))
        unique = sub.group_by(["old_serial", "new_serial"]).aggregate([])
        if unique.num_rows != pc.count_distinct(unique.column("old_serial")).as_py():
            counts = unique.group_by("old_serial").aggregate([("new_serial", "count")])
            dup = counts.filter(pc.greater(counts.column("new_serial_count"), 1)).column("old_serial")[0].as_py()
            targets = unique.filter(pc.equal(unique.column("old_serial"), dup)).column("new_serial").to_pylist()
            raise LinkError(f"{source}: old serial {dup} is linked to several new serials ({', '.join(sorted(targets))}); refused")
        latest = resolve(unique.column("old_serial").combine_chunks(), unique.column("new_serial").combine_chunks(), source)
        tables.append(
            pa.table(
                {
                    "issuer": pa.array(np.full(unique.num_rows, issuer, dtype=object), pa.string()),
                    "old_serial": unique.column("old_serial"),
                    "new_serial": unique.column("new_serial"),
                    "latest_serial": latest,
                },
                schema=LINKS_SCHEMA,
            ).sort_by([("old_serial", "ascending")])
        )
    return pa.concat_tables(tables) if tables else LINKS_SCHEMA.empty_table()


def latest_serials(store: Store, hexes: pa.Array, issuer_rows: int | np.ndarray) -> pa.Array:
    """For canonical hex serials and their issuer indexes: the latest serial of each chain of
    renewals (the serial itself when it has no link); :meth:`Store.follow_links`."""
    return store.follow_links(hexes, issuer_rows)
