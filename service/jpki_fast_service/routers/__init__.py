"""One router per resource: status, certificates, logins, signatures, age, snapshot, admin,
health. Each uses the dependencies of :mod:`jpki_fast_service.auth`, :mod:`..limits` and
:mod:`..snapshots`."""
