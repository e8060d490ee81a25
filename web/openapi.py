"""The OpenAPI 3.1 document of the API, as committed in docs/openapi.json.

Regenerate after changing a route: ``python -m web.openapi docs/openapi.json`` (a test compares them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from streetwatch.config import Settings
from web.app import create_app


def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m web.openapi FILE", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
