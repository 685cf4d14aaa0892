"""jpki-fast-service: the HTTP service of jpki-fast (FastAPI).

>>> from jpki_fast_service import ServiceConfig, create_app           # doctest: +SKIP
>>> app = create_app(ServiceConfig(store="demo-data/store"))          # doctest: +SKIP

Run it with ``jpki-fast serve --store DIR`` (several workers share the memory-mapped snapshot).
"""

from .config import ServiceConfig

__version__ = "0.1.0"


def create_app(config=None, **kwargs):
    """See :func:`jpki_fast_service.app.create_app` (imported on first use, so that the command
    line can load this package without FastAPI)."""
    from .app import create_app as _create_app

    return _create_app(config, **kwargs)


__all__ = ["ServiceConfig", "create_app", "__version__"]
