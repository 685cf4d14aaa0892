"""The update job's configuration file: defaults, path resolution, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from jpki_fast.config import ConfigError, FetchConfig, Source, load_config, redact_url

BASE = """
[store]
path = "store"

[trust]
path = "/etc/jpki-fast/trust"

[fetch]
directory = "crls"
{fetch}

{sources}
"""

ONE_SOURCE = """
[[sources]]
url = "https://crl.example.jp/auth/Hokkaido/Sapporo-shi-Minami-ku.crl"
path = "auth/Hokkaido/Sapporo-shi-Minami-ku.crl"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "update.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_text(fetch: str = "", sources: str = ONE_SOURCE) -> str:
    return BASE.format(fetch=fetch, sources=sources)


def test_minimal_config_takes_defaults_and_resolves_paths_against_its_directory(tmp_path):
    cfg = load_config(write(tmp_path, config_text()))
    assert cfg.path == tmp_path / "update.toml"
    assert cfg.store == tmp_path / "store" and cfg.keep == 35
    assert cfg.trust == Path("/etc/jpki-fast/trust")
    f = cfg.fetch
    assert f.directory == tmp_path / "crls"
    assert f.sources == (
        Source("https://crl.example.jp/auth/Hokkaido/Sapporo-shi-Minami-ku.crl", "auth/Hokkaido/Sapporo-shi-Minami-ku.crl"),
    )
    defaults = FetchConfig(directory=f.directory, sources=f.sources)
    assert f == defaults
    assert (f.timeout, f.max_bytes, f.retries, f.backoff, f.concurrency) == (30.0, 1 << 30, 3, 1.0, 8)
    assert f.user_agent.startswith("jpki-fast") and f.ca_file is None


def test_every_key_is_read(tmp_path):
    (tmp_path / "ca.pem").write_text("(a CA bundle)")
    text = """
[store]
path = "/srv/store"
keep = 10
[trust]
path = "trust"
[fetch]
directory = "/srv/crls"
timeout = 5
deadline = 600.5
max_bytes = 1_000
retries = 0
backoff = 0
retry_after_max = 30
concurrency = 2
max_redirects = 0
user_agent = "bank-x/1.0"
ca_file = "ca.pem"
""" + ONE_SOURCE
    cfg = load_config(write(tmp_path, text))
    f = cfg.fetch
    assert (cfg.store, cfg.keep, cfg.trust) == (Path("/srv/store"), 10, tmp_path / "trust")
    assert f.directory == Path("/srv/crls")
    assert (f.timeout, f.deadline, f.max_bytes, f.retries, f.backoff) == (5.0, 600.5, 1000, 0, 0.0)
    assert (f.retry_after_max, f.concurrency, f.max_redirects, f.user_agent) == (30.0, 2, 0, "bank-x/1.0")
    assert f.ca_file == tmp_path / "ca.pem"


def test_sources_file_and_tables_combine(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "sources.csv").write_text(
        "\ufeffurl,path\n"
        "# signing CA partitions\n"
        "http://crl.example.jp/sign/Hokkaido/Hakodate-shi.crl, sign/Hokkaido/Hakodate-shi.crl\n"
        "\n"
        "https://crl.example.jp/sign/Tokyo-to/Chiyoda-ku.der,sign/Tokyo-to/Chiyoda-ku.der\n",
        encoding="utf-8",
    )
    cfg = load_config(write(tmp_path, config_text(fetch='sources_file = "lists/sources.csv"')))
    assert [s.path for s in cfg.fetch.sources] == [
        "auth/Hokkaido/Sapporo-shi-Minami-ku.crl",
        "sign/Hokkaido/Hakodate-shi.crl",
        "sign/Tokyo-to/Chiyoda-ku.der",
    ]
    assert cfg.fetch.sources[1].url == "http://crl.example.jp/sign/Hokkaido/Hakodate-shi.crl"


def test_paths_are_normalised(tmp_path):
    sources = '[[sources]]\nurl = "https://h.example/a.crl"\npath = "./auth//a.crl"\n'
    cfg = load_config(write(tmp_path, config_text(sources=sources)))
    assert cfg.fetch.sources[0].path == "auth/a.crl"


def source(url="https://crl.example.jp/a.crl", path="a.crl") -> str:
    return f'[[sources]]\nurl = "{url}"\npath = "{path}"\n'


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[trust]\npath='t'\n[fetch]\ndirectory='c'\n" + ONE_SOURCE, "[store]", "missing section"),
        ("[store]\nkeep=3\n[trust]\npath='t'\n[fetch]\ndirectory='c'\n" + ONE_SOURCE, "store.path", "missing"),
        ("[store]\npath='s'\n[trust]\npath='t'\n[fetch]\n" + ONE_SOURCE, "fetch.directory", "missing"),
        ("[store]\npath='s'\nkeep=0\n[trust]\npath='t'\n[fetch]\ndirectory='c'\n" + ONE_SOURCE, "store.keep", "positive"),
        ("[store]\npath=''\n[trust]\npath='t'\n[fetch]\ndirectory='c'\n" + ONE_SOURCE, "store.path", "non-empty path"),
        ("[stores]\npath='s'\n" + config_text(), "stores", "unknown section"),
        (config_text("timout = 5"), "fetch.timout", "unknown key"),
        (config_text("timeout = 0"), "fetch.timeout", "positive"),
        (config_text("timeout = -1"), "fetch.timeout", "positive"),
        (config_text('timeout = "30"'), "fetch.timeout", "must be a number"),
        (config_text("timeout = true"), "fetch.timeout", "must be a number"),
        (config_text("timeout = nan"), "fetch.timeout", "must be a number"),
        (config_text("deadline = 0"), "fetch.deadline", "positive"),
        (config_text("max_bytes = 1.5"), "fetch.max_bytes", "integer"),
        (config_text("max_bytes = 0"), "fetch.max_bytes", "positive"),
        (config_text("retries = -1"), "fetch.retries", "0 or more"),
        (config_text("backoff = -0.5"), "fetch.backoff", "0 or more"),
        (config_text("concurrency = 0"), "fetch.concurrency", "positive"),
        (config_text("max_redirects = -1"), "fetch.max_redirects", "0 or more"),
        (config_text('user_agent = "a\\r\\nX-Evil: 1"'), "fetch.user_agent", "single-line"),
        (config_text('ca_file = "nowhere.pem"'), "fetch.ca_file", "not a file"),
        (config_text(sources=""), "sources", "no sources"),
        (config_text(sources=source(url="file:///etc/passwd")), "sources[0].url", "only http:// and https://"),
        (config_text(sources=source(url="ftp://h.example/a.crl")), "sources[0].url", "only http:// and https://"),
        (config_text(sources=source(url="crl.example.jp/a.crl")), "sources[0].url", "only http:// and https://"),
        (config_text(sources=source(url="https:///a.crl")), "sources[0].url", "no host"),
        (config_text(sources=source(url="https://h.example:99999/a.crl")), "sources[0].url", "not a valid URL"),
        (config_text(sources=source(url="https://h.example/a b.crl")), "sources[0].url", "whitespace"),
        (config_text(sources=source(path="../a.crl")), "sources[0].path", "escapes fetch.directory"),
        (config_text(sources=source(path="auth/../../a.crl")), "sources[0].path", "escapes fetch.directory"),
        (config_text(sources=source(path="/var/lib/a.crl")), "sources[0].path", "absolute"),
        (config_text(sources=source(path=".hidden/a.crl")), "sources[0].path", "hidden"),
        (config_text(sources=source(path="auth/.a.crl")), "sources[0].path", "hidden"),
        (config_text(sources=source(path="auth/a.html")), "sources[0].path", "must end in .crl, .der, .pem"),
        (config_text(sources=source(path="auth\\\\a.crl")), "sources[0].path", "backslashes"),
        (config_text(sources=source() + source(url="https://mirror.example/a.crl")), "sources[1].path", "also the path of sources[0]"),
        (config_text(sources='[[sources]]\nurl = "https://h.example/a.crl"\n'), "sources[0].path", "missing"),
        (
            config_text(sources='[[sources]]\nurl = "https://h.example/a.crl"\npath = "a.crl"\nname = "x"\n'),
            "sources[0].name",
            "unknown key",
        ),
        ("sources = 3\n" + config_text(sources=""), "sources", "array of tables"),
        (config_text('sources_file = "missing.csv"'), "fetch.sources_file", "cannot read"),
        ("[store\npath = 's'", "", "not valid TOML"),
    ],
)
def test_errors_name_the_file_the_key_and_the_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}"), message
    assert problem in message, message


@pytest.mark.parametrize(
    "lines, line, problem",
    [
        (["url,path", "https://h.example/a.crl,a.crl,extra"], 2, "expected two columns"),
        (["https://h.example/a.crl,a.crl", "file:///etc/passwd,b.crl"], 2, "only http:// and https://"),
        (["https://h.example/a.crl,a.crl", "# comment", "https://h.example/b.crl,a.crl"], 3, "also the path of fetch.sources_file"),
        (["https://h.example/a.crl,../a.crl"], 1, "escapes fetch.directory"),
        (["https://h.example/a.crl"], 1, "expected two columns"),
    ],
)
def test_sources_file_errors_name_the_line(tmp_path, lines, line, problem):
    (tmp_path / "sources.csv").write_text("\n".join(lines) + "\n")
    path = write(tmp_path, config_text('sources_file = "sources.csv"', sources=""))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: fetch.sources_file {tmp_path / 'sources.csv'}:{line}"), message
    assert problem in message, message


def test_a_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.toml: cannot read the configuration file"):
        load_config(tmp_path / "nowhere.toml")


def test_credentials_in_a_url_are_kept_but_never_shown_in_errors(tmp_path):
    ok = load_config(write(tmp_path, config_text(sources=source(url="https://verifier:s3cret@crl.example.jp/a.crl"))))
    assert ok.fetch.sources[0].url == "https://verifier:s3cret@crl.example.jp/a.crl"
    assert ok.fetch.sources[0].display_url == "https://***@crl.example.jp/a.crl"
    assert "s3cret" not in repr(ok) and "***@crl.example.jp" in repr(ok)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, config_text(sources=source(url="ftp://verifier:s3cret@crl.example.jp/a.crl"))))
    assert "s3cret" not in str(info.value) and "ftp://***@crl.example.jp/a.crl" in str(info.value)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://u:p@h.example/a.crl", "https://***@h.example/a.crl"),
        ("https://u@h.example:8443/a.crl?x=1", "https://***@h.example:8443/a.crl?x=1"),
        ("http://h.example/a.crl", "http://h.example/a.crl"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown
