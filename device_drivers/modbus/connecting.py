"""Connecting a pymodbus client so that a refused connection leaves no garbage behind."""

from __future__ import annotations

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient


async def connect_client(client: AsyncModbusTcpClient | AsyncModbusSerialClient) -> bool:
    """``client.connect()`` without the ``asyncio.wait_for`` pymodbus wraps it in (the caller's
    ``asyncio.timeout`` bounds it). Raises OSError when the connection is refused.

    On Python 3.11 a connect that fails inside ``wait_for`` leaves the error, its traceback, their
    frames and the whole client in a reference cycle, about 9 kB, that only a collection of the older
    generations frees: with 80,000 devices behind unreachable converters, thousands of them were alive
    at any time. Raised here, the error and its traceback are freed as soon as the caller handles it.
    """
    ctx = client.ctx
    create = getattr(ctx, "call_create", None)  # pymodbus' own partial of loop.create_connection
    if not callable(create) or not hasattr(ctx, "reset_delay") or not hasattr(ctx, "is_closing"):
        return bool(await client.connect())  # other internals than 3.16's: the library's own way
    ctx.reset_delay()
    ctx.is_closing = False
    ctx.transport, _ = await create()
    return bool(ctx.transport)
