"""The configuration file of the nightly ``jpki-fast update --config FILE`` job (TOML).

A complete example (every key but ``[[sources]]``/``sources_file`` is optional and shows its
default; paths are resolved against the directory holding the configuration file)::

    [store]
    path = "/var/lib/jpki-fast/store"     # the store to publish into (required)
    keep = 35                              # generations of history to keep
    policy = "partition"                   # or "all-or-nothing" (see jpki_fast.ingest)

    [trust]
    path = "/etc/jpki-fast/trust"          # CA certificates (required)

    [fetch]
    directory = "/var/lib/jpki-fast/crls"  # where downloaded CRLs live: the ingest input (required)
    timeout = 30                           # seconds per connect and per read
    deadline = 3600                        # seconds for the whole fetch, all sources together
    max_bytes = 1_073_741_824              # per file
    retries = 3                            # attempts after the first, exponential backoff
    backoff = 1.0                          # seconds before the first retry, doubled each retry
    retry_after_max = 60                   # cap on a server's Retry-After (and on backoff), seconds
    concurrency = 8                        # parallel downloads
    max_redirects = 5
    user_agent = "jpki-fast/0.1.0"
    # ca_file = "private-ca.pem"           # trust these CAs instead of the system's for HTTPS
    # sources_file = "sources.csv"         # "url,path" per line, for thousands of partitions

    [limits]                               # resource limits of the ingest (jpki_fast.limits)
    max_crl_bytes = 1_073_741_824          # a larger CRL file is refused (limit_exceeded)
    max_crl_entries = 30_000_000           # a CRL listing more entries is refused
    max_files = 100_000                    # more CRL files refuse the whole run

    [[sources]]                            # one table per CRL file
    url = "https://crl.example.jp/auth/Hokkaido/Sapporo-shi-Minami-ku.crl"
    path = "auth/Hokkaido/Sapporo-shi-Minami-ku.crl"   # relative to fetch.directory

Sources come from ``[[sources]]`` tables, from ``fetch.sources_file``, or both. The sources file
is CSV with two columns, ``url,path``; blank lines and lines starting with ``#`` are skipped, and a
first line ``url,path`` is taken as a header.

What is refused, with an error that names the file, the key (or file and line) and the problem:
unknown sections or keys (a typo must not silently fall back to a default), a missing required
key, a value of the wrong type, a number that is not positive (``retries`` and ``backoff`` may be
0), a URL that is not ``http://`` or ``https://`` (``file://`` and others are refused: the job
fetches over the network only), a source path that is absolute, contains ``..``, names a hidden
file or directory (ingest skips dot-files, so it would never be read) or does not end in ``.crl``,
``.der`` or ``.pem`` (the suffixes ingest reads), and two sources writing the same path.

Plain ``http://`` is accepted: J-LIS signs every CRL and ingest verifies the signature and refuses
rollbacks, so the transport adds no integrity of its own. Credentials may be given in a URL
(``https://user:secret@host/...``); they are sent as HTTP Basic authentication, never logged or
reported, and never forwarded on a redirect.

>>> cfg = load_config(update_toml)
>>> cfg.fetch.directory == update_toml.parent / "crls", [s.path for s in cfg.fetch.sources]
(True, ['auth/Hokkaido/Sapporo-shi-Minami-ku.crl', 'sign/Hokkaido/Sapporo-shi-Minami-ku.crl'])
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import JpkiFastError
from .ingest import CRL_SUFFIXES, DEFAULT_KEEP, POLICIES
from .limits import Limits

URL_SCHEMES = ("http", "https")


def _default_user_agent() -> str:
    try:
        return f"jpki-fast/{importlib.metadata.version('jpki-fast')}"
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "jpki-fast"


class ConfigError(JpkiFastError, ValueError):
    """The update configuration is invalid; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Source:
    """One CRL to download: ``url`` saved as ``path`` (relative, POSIX) under the fetch directory."""

    url: str
    path: str

    @property
    def display_url(self) -> str:
        """The URL with any credentials replaced by ``***`` (for logs and reports)."""
        return redact_url(self.url)

    def __repr__(self) -> str:  # a config printed in a traceback or log must not leak credentials
        return f"Source(url={self.display_url!r}, path={self.path!r})"


@dataclass(frozen=True)
class FetchConfig:
    """The ``[fetch]`` section and the sources. Times are seconds."""

    directory: Path
    sources: tuple[Source, ...] = ()
    timeout: float = 30.0
    deadline: float = 3600.0
    max_bytes: int = 1 << 30
    retries: int = 3
    backoff: float = 1.0
    retry_after_max: float = 60.0
    concurrency: int = 8
    max_redirects: int = 5
    user_agent: str = field(default_factory=_default_user_agent)
    ca_file: Path | None = None


@dataclass(frozen=True)
class UpdateConfig:
    """A loaded, validated configuration file (``path`` is the file it came from)."""

    path: Path
    store: Path
    keep: int
    trust: Path
    fetch: FetchConfig
    policy: str = "partition"
    limits: Limits = field(default_factory=Limits)


def redact_url(url: str) -> str:
    """``url`` with its userinfo (credentials) replaced by ``***``.

    >>> redact_url("https://user:secret@crl.example.jp/a.crl")
    'https://***@crl.example.jp/a.crl'
    >>> redact_url("https://crl.example.jp/a.crl")
    'https://crl.example.jp/a.crl'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


# ------------------------------------------------------------------------------------------------
# Loading

_SECTIONS = {
    "store": {"path", "keep", "policy"},
    "trust": {"path"},
    "fetch": {
        "directory", "timeout", "deadline", "max_bytes", "retries", "backoff", "retry_after_max",
        "concurrency", "max_redirects", "user_agent", "ca_file", "sources_file",
    },
    "sources": {"url", "path"},
    "limits": {"max_crl_bytes", "max_crl_entries", "max_files"},
}


def load_config(path: str | Path) -> UpdateConfig:
    """Reads and validates the update configuration at ``path``.

    Raises :class:`ConfigError` naming the file, the key and the problem (and ``FileNotFoundError``
    style problems as ConfigError too, so the CLI has one error to report).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "update.toml").write_text('''
    ... [store]
    ... path = "store"
    ... [trust]
    ... path = "trust"
    ... [fetch]
    ... directory = "crls"
    ... [[sources]]
    ... url = "https://crl.example.jp/a.crl"
    ... path = "auth/a.crl"
    ... ''')
    >>> cfg = load_config(d / "update.toml")
    >>> cfg.store == d / "store", cfg.keep, cfg.fetch.sources[0].path
    (True, 35, 'auth/a.crl')
    """
    path = Path(path).absolute()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return _Loader(path).load(data)


class _Loader:
    """Validation state for one file: every error is prefixed with the file name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def load(self, data: dict[str, Any]) -> UpdateConfig:
        for name, value in data.items():
            if name not in _SECTIONS:
                raise self.fail(name, f"unknown section or key (expected one of: {', '.join(sorted(_SECTIONS))})")
            if name == "sources":
                if not isinstance(value, list):
                    raise self.fail("sources", "must be an array of tables ([[sources]])")
            elif not isinstance(value, dict):
                raise self.fail(name, f"must be a table ([{name}])")
            else:
                self._no_unknown_keys(name, value)
        store = self._section(data, "store")
        trust = self._section(data, "trust")
        fetch = self._section(data, "fetch")
        directory = self._path(fetch, "fetch", "directory")
        sources = self._sources(data.get("sources", []), fetch)
        if not sources:
            raise self.fail("sources", "no sources: add [[sources]] tables or fetch.sources_file")
        d = FetchConfig.__dataclass_fields__
        ca_file = self._path(fetch, "fetch", "ca_file", required=False)
        if ca_file is not None and not ca_file.is_file():
            raise self.fail("fetch.ca_file", f"{ca_file} is not a file")
        fetch_config = FetchConfig(
            directory=directory,
            sources=tuple(sources),
            timeout=self._number(fetch, "timeout", d["timeout"].default),
            deadline=self._number(fetch, "deadline", d["deadline"].default),
            max_bytes=self._integer(fetch, "max_bytes", d["max_bytes"].default),
            retries=self._integer(fetch, "retries", d["retries"].default, minimum=0),
            backoff=self._number(fetch, "backoff", d["backoff"].default, zero_ok=True),
            retry_after_max=self._number(fetch, "retry_after_max", d["retry_after_max"].default, zero_ok=True),
            concurrency=self._integer(fetch, "concurrency", d["concurrency"].default),
            max_redirects=self._integer(fetch, "max_redirects", d["max_redirects"].default, minimum=0),
            user_agent=self._user_agent(fetch, _default_user_agent()),
            ca_file=ca_file,
        )
        return UpdateConfig(
            path=self.path,
            store=self._path(store, "store", "path"),
            keep=self._integer(store, "keep", DEFAULT_KEEP, section="store"),
            trust=self._path(trust, "trust", "path"),
            fetch=fetch_config,
            policy=self._policy(store),
            limits=self._limits(data.get("limits", {})),
        )

    def _limits(self, table: dict) -> Limits:
        d = Limits.__dataclass_fields__
        values = {key: self._integer(table, key, d[key].default, section="limits") for key in _SECTIONS["limits"]}
        return Limits(**values)

    def _policy(self, store: dict) -> str:
        value = store.get("policy", "partition")
        if value not in POLICIES:
            raise self.fail("store.policy", f"must be one of {', '.join(POLICIES)}, got {value!r}")
        return value

    # -- sections and scalars -------------------------------------------------------------------

    def _section(self, data: dict, name: str) -> dict:
        if name not in data:
            raise self.fail(f"[{name}]", "missing section")
        return data[name]

    def _no_unknown_keys(self, section: str, table: dict, where: str | None = None) -> None:
        for key in table:
            if key not in _SECTIONS[section]:
                allowed = ", ".join(sorted(_SECTIONS[section]))
                raise self.fail(f"{where or section}.{key}", f"unknown key (expected one of: {allowed})")

    def _path(self, table: dict, section: str, key: str, required: bool = True) -> Path | None:
        if key not in table:
            if required:
                raise self.fail(f"{section}.{key}", "missing (required)")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{section}.{key}", f"must be a non-empty path string, got {value!r}")
        return self.base / Path(value).expanduser()

    def _number(self, table: dict, key: str, default: float, zero_ok: bool = False, section: str = "fetch") -> float:
        value = table.get(key, default)
        # bool is an int in Python; `timeout = true` is a mistake, not 1 second
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{section}.{key}", f"must be a number of seconds, got {value!r}")
        if value < 0 or (value == 0 and not zero_ok):
            raise self.fail(f"{section}.{key}", f"must be {'0 or more' if zero_ok else 'positive'}, got {value!r}")
        return float(value)

    def _integer(self, table: dict, key: str, default: int, minimum: int = 1, section: str = "fetch") -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{section}.{key}", f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.fail(f"{section}.{key}", f"must be {'positive' if minimum == 1 else f'{minimum} or more'}, got {value!r}")
        return value

    def _user_agent(self, table: dict, default: str) -> str:
        value = table.get("user_agent", default)
        # a CR or LF would let the value inject headers into every request
        if not isinstance(value, str) or not value.strip() or any(c in value for c in "\r\n"):
            raise self.fail("fetch.user_agent", f"must be a non-empty single-line string, got {value!r}")
        return value

    # -- sources --------------------------------------------------------------------------------

    def _sources(self, tables: list, fetch: dict) -> list[Source]:
        sources: list[Source] = []
        where_by_path: dict[str, str] = {}

        def add(url: Any, rel: Any, where: str, url_key: str, path_key: str) -> None:
            source = Source(self._url(url, url_key), self._relpath(rel, path_key))
            seen = where_by_path.get(source.path)
            if seen is not None:
                raise self.fail(path_key, f"{source.path!r} is also the path of {seen}")
            where_by_path[source.path] = where
            sources.append(source)

        for i, table in enumerate(tables):
            where = f"sources[{i}]"
            if not isinstance(table, dict):
                raise self.fail(where, "must be a table with url and path")
            self._no_unknown_keys("sources", table, where)
            for key in ("url", "path"):
                if key not in table:
                    raise self.fail(f"{where}.{key}", "missing (required)")
            add(table["url"], table["path"], where, f"{where}.url", f"{where}.path")

        list_file = self._path(fetch, "fetch", "sources_file", required=False)
        if list_file is not None:
            for url, rel, where in self._read_sources_file(list_file):
                add(url, rel, where, where, where)
        return sources

    def _read_sources_file(self, list_file: Path):
        try:
            text = list_file.read_text(encoding="utf-8-sig")  # tolerate a BOM from spreadsheet exports
        except OSError as exc:
            raise self.fail("fetch.sources_file", f"cannot read {list_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise self.fail("fetch.sources_file", f"{list_file} is not UTF-8 text: {exc}") from None
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            where = f"fetch.sources_file {list_file}:{lineno}"
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if lineno == 1 and [c.lower() for c in cells] == ["url", "path"]:
                continue
            if len(cells) != 2:
                raise self.fail(where, f"expected two columns url,path, got {len(cells)}")
            yield cells[0], cells[1], where

    def _url(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty URL string, got {value!r}")
        value = value.strip()
        shown = redact_url(value)
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError as exc:
            raise self.fail(key, f"{shown} is not a valid URL: {exc}") from None
        if parts.scheme.lower() not in URL_SCHEMES:
            raise self.fail(key, f"{shown}: only http:// and https:// URLs are fetched, not {parts.scheme or 'a relative URL'}")
        if not parts.hostname:
            raise self.fail(key, f"{shown}: no host")
        if any(c.isspace() or ord(c) < 0x20 for c in value):
            raise self.fail(key, f"{shown}: contains whitespace or control characters (percent-encode them)")
        return value

    def _relpath(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty relative path, got {value!r}")
        if "\\" in value or "\0" in value:
            raise self.fail(key, f"{value!r}: use '/' as the separator; backslashes and NULs are refused")
        p = PurePosixPath(value)
        if p.is_absolute():
            raise self.fail(key, f"{value!r} is absolute; give a path relative to fetch.directory")
        if any(part == ".." for part in p.parts):
            raise self.fail(key, f"{value!r} escapes fetch.directory ('..')")
        if any(part.startswith(".") for part in p.parts):
            raise self.fail(key, f"{value!r} names a hidden file or directory, which ingest skips")
        if not p.name.lower().endswith(CRL_SUFFIXES):
            raise self.fail(key, f"{value!r} must end in {', '.join(CRL_SUFFIXES)} (the files ingest reads)")
        return str(p)  # normalised: no './', no doubled '/'
