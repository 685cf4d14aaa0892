"""The operator console: ``/ui``, a web page served by the service for the people who run it.

Overview (generation, age, readiness, counts, alerts for stale / refused / missing partitions),
Partitions (every partition CRL, grouped by prefecture, sortable and filterable), Changes (newly
revoked entries per day by reason over the kept history, the last diff), Check (serials or a
certificate, through the API itself) and Audit (requests per key and endpoint per day, the audit
chain's state), in Japanese and English.

Operators sign in with an API key of the service (:mod:`.session`); which roles see which page
is in :mod:`.routes`. Pages are server-rendered HTML (Jinja2) that read without JavaScript; a
little vanilla JavaScript sorts, filters and refreshes; charts are inline SVG; nothing is loaded
from outside the service. The distribution registers :func:`router` under the entry point group
``jpki_fast_service.routers``, so every :func:`jpki_fast_service.create_app` serves it.
"""

from .routes import router

__all__ = ["router"]
