"""The operator HTTP API: ``streetwatch serve``. A thin skin over the libraries the CLI uses.

    from web import create_app
    app = create_app(settings)      # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from web.app import create_app

__all__ = ["create_app"]
