"""The Python ceiling: a bare asyncio server that greets and answers every line.

Usage: ``python bench/echo.py PORT``. It speaks just enough IMAP for bench/load.py's
session (``* OK`` greeting, ``TAG OK`` for every command, ``* BYE`` and a close after
LOGOUT), with no parsing, storage or authentication: whatever a Python server on
asyncio does per session beyond this is its own cost.
"""

from __future__ import annotations

import asyncio
import sys


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"* OK ready\r\n")
    while line := await reader.readline():
        tag, _, command = line.partition(b" ")
        if command.upper().startswith(b"LOGOUT"):
            writer.write(b"* BYE\r\n" + tag + b" OK done\r\n")
            break
        writer.write(tag + b" OK done\r\n")
        await writer.drain()
    writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
