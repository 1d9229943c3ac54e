"""The toolkit's version: the single source (pyproject reads it; bundles and the resume fingerprint record it)."""

__version__ = "0.2.0"
