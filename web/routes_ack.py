"""``/ack/{token}``: the one-time signed link in an alert's SMS or e-mail.

Public (the token is the credential). ``GET`` only shows what would be acknowledged, with a button:
mail scanners and link previews fetch links, and must not acknowledge an alert on someone's behalf.
``POST`` acknowledges, as the person the link was sent to, and records it in the audit log.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from duty import AckLinkError
from duty.acknowledge import acknowledge_by_link
from rules.errors import AlertNotFound
from web.auth import check_rate, client_address, services_of
from web.models import ERROR_RESPONSES

_HTML: dict[str, object] = {"content": {"text/html": {"schema": {"type": "string"}}}}
_ANSWERS: dict[int | str, dict[str, object]] = {
    404: {**_HTML, "description": "the link is not genuine, or its alert is gone"},
    410: {**_HTML, "description": "the link has expired or has been used"},
    429: ERROR_RESPONSES[429],
}
router = APIRouter(tags=["acknowledgement links"], responses=_ANSWERS)
PUBLIC_ROUTES = frozenset({("GET", "/ack/{token}"), ("POST", "/ack/{token}")})
_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Streetwatch</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto">{body}</body></html>"""


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/ack/{token}", response_class=HTMLResponse, summary="Show the alert a link acknowledges")
async def show(token: str, request: Request) -> HTMLResponse:
    services = services_of(request)
    check_rate(request, f"address:{client_address(request)}")
    try:
        claim = services.ack_signer.verify(token, now=services.clock.now().timestamp())
        alert = await services.alerts.get(claim.alert_id)
    except (AckLinkError, AlertNotFound) as exc:
        return _page(f"<p>{escape(str(exc))}</p>", 404)
    return _page(f"<h1>{escape(alert.severity)}: {escape(alert.message or alert.rule)}</h1>"
                 f"<p>{escape(alert.device_id)} · {escape(alert.state.value)}</p>"
                 f'<form method="post"><button type="submit" style="font-size: 1.5em">确认收到 / Acknowledge'
                 f"</button></form>")


@router.post("/ack/{token}", response_class=HTMLResponse, summary="Acknowledge the alert of a one-time link")
async def acknowledge(token: str, request: Request) -> HTMLResponse:
    services = services_of(request)
    address = client_address(request)
    check_rate(request, f"address:{address}")
    now = services.clock.now()
    try:
        alert = await acknowledge_by_link(services.db, services.alerts, services.ack_signer, token, now=now)
    except (AckLinkError, AlertNotFound) as exc:
        status = 410 if "expired" in str(exc) or "used" in str(exc) else 404
        return _page(f"<p>{escape(str(exc))}</p>", status)
    await services.people.audit.record(
        actor=alert.acknowledged_by or "", role="ack-link", area="root", address=address, action="alert.ack",
        target=str(alert.id), result="ok", now=now, detail={"via": "link"})
    return _page(f"<h1>已确认 / Acknowledged</h1><p>{escape(alert.device_id)}: "
                 f"{escape(alert.acknowledged_by or '')} {escape(str(alert.acknowledged_at or ''))}</p>")
