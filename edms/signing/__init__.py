"""Electronic signatures in the application: credentials, the trust store, signing
document versions, and the public verification page (over the ``signing`` library)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the signing pages with ``app``."""
    from edms.signing.views import admin_bp, bp

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
