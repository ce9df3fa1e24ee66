"""bench/python (d): a small HTTP/1.1 server on asyncio streams (asyncio.start_server), the same
code in the guest and on the host python3.13. Keep-alive; every request gets 200 with a short
body (GET /healthz included, which the benchmark probes). Requests are read up to the blank
line; bodies are not expected (wrk sends GETs)."""

import asyncio

BODY = b"hello from asyncio\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
HEADERS_BYTES_MAX = 16384


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            writer.write(RESPONSE)
            if b"\r\nconnection: close" in head.lower():
                break
            await writer.drain()
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "0.0.0.0", port, limit=HEADERS_BYTES_MAX, backlog=128)
    print(f"listening on port {port}", flush=True)
    async with server:
        await server.serve_forever()


def serve(port: int) -> None:
    asyncio.run(main(port))
