"""jpki-fast: fast, exact revocation checks for JPKI (公的個人認証サービス) certificates."""

__version__ = "0.1.0"
