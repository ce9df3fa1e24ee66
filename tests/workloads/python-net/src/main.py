"""asyncio streams over the kernel's sockets (net.*), run by tests/e2e/python-net.test.ts.

    ukernel run -- loopback           server and clients in this guest, over 127.0.0.1
    ukernel run -p H:80 -p E:7 -- serve
                                      an HTTP/1.1 server on :80 and an echo server on :7 for
                                      the host; GET /quit ends the run
    ukernel run --net user [--dns 10.0.2.2:P] -- client HOST PORT [NAME [MISSING [UDP]]]
                                      first a datagram to HOST:UDP (answered in upper case),
                                      then connects out to a TCP server at HOST:PORT (the
                                      test's, on the host: 10.0.2.2), then by the DNS name
                                      NAME; MISSING is a name that does not resolve

Each mode prints "check: NAME ok|FAILED detail" lines and exits 0 when all hold, else 1. Every
mode ends with asyncio.run() returning: no thread was ever needed (name resolution included:
the adapter's loop resolves names in place, adapters/python/main.c).
"""

import asyncio
import socket
import sys
import threading

failures = []


def check(name, condition, detail=""):
    print(f"check: {name} {'ok' if condition else 'FAILED'} {detail}".rstrip())
    if not condition:
        failures.append(name)


def no_thread_used(loop):
    check("no-thread", threading.active_count() == 1 and loop._default_executor is None,
          f"threads={threading.active_count()} executor={loop._default_executor}")


async def echo_upper(reader, writer):
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def exchange(host, port, lines):
    reader, writer = await asyncio.open_connection(host, port)
    answers = []
    for line in lines:
        writer.write(line)
        await writer.drain()
        answers.append(await reader.readline())
    writer.write_eof()
    rest = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answers, rest, writer.get_extra_info("peername")


async def loopback():
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(echo_upper, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    check("listen-ip", port > 0, port)
    answers, rest, _ = await exchange("127.0.0.1", port, [b"hello\n", b"again\n"])
    check("echo-ip", answers == [b"HELLO\n", b"AGAIN\n"] and rest == b"", answers)

    # Host names: loop.getaddrinfo (asyncio would start a thread for these).
    answers, _, peer = await exchange("localhost", port, [b"by name\n"])
    check("echo-localhost", answers == [b"BY NAME\n"] and peer == ("127.0.0.1", port), peer)
    named = await asyncio.start_server(echo_upper, "localhost", 0)
    named_port = named.sockets[0].getsockname()[1]
    answers, _, _ = await exchange("127.0.0.1", named_port, [b"named server\n"])
    check("listen-localhost", answers == [b"NAMED SERVER\n"], named.sockets[0].getsockname())
    everywhere = await asyncio.start_server(echo_upper, None, 0)
    address = everywhere.sockets[0].getsockname()
    answers, _, _ = await exchange("127.0.0.1", address[1], [b"any\n"])
    check("listen-any", address[0] == "0.0.0.0" and answers == [b"ANY\n"], address)

    infos = await loop.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    check("getaddrinfo", [info[4] for info in infos] == [("127.0.0.1", 80)], infos)
    check("getnameinfo", await loop.getnameinfo(("127.0.0.1", 8080)) == ("localhost", "8080"))
    try:
        await loop.getaddrinfo("no-such-host.invalid", 80)
        check("no-dns-server", False, "resolved without a network")
    except socket.gaierror as error:
        check("no-dns-server", error.errno == socket.EAI_AGAIN, error)

    # Many clients at once, each with several lines.
    async def client(index):
        lines = [f"client {index} line {n}\n".encode() for n in range(5)]
        answers, _, _ = await exchange("127.0.0.1", port, lines)
        return answers == [line.upper() for line in lines]
    results = await asyncio.gather(*(client(index) for index in range(20)))
    check("concurrent", all(results), results.count(False))

    # A large transfer both ways (more than the send and receive windows).
    big = bytes(range(256)) * 4096 + b"\n"  # 1 MiB and a newline
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(big)
    received = await reader.readexactly(len(big))
    writer.close()
    await writer.wait_closed()
    check("large", received == big.upper(), len(received))

    for each in (server, named, everywhere):
        each.close()
        await each.wait_closed()
    try:
        await asyncio.open_connection("127.0.0.1", port)
        check("refused", False, "connected to a closed server")
    except ConnectionRefusedError as error:
        check("refused", True, error)
    no_thread_used(loop)


async def http_handler(reader, writer, state):
    """A tiny HTTP/1.1 server: keep-alive, Content-Length bodies; GET /hello, POST /echo,
    GET /quit."""
    try:
        while request := await reader.readline():
            method, path, version = request.decode("latin-1").split()
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            state["requests"] += 1
            if method == "GET" and path == "/hello":
                status, payload = "200 OK", b"hello from asyncio in the guest\n"
            elif method == "POST" and path == "/echo":
                status, payload = "200 OK", body
            elif method == "GET" and path == "/quit":
                status, payload = "200 OK", b"bye\n"
                state["quit"].set()
            else:
                status, payload = "404 Not Found", b"no such page\n"
            closing = headers.get("connection", "").lower() == "close" or version != "HTTP/1.1"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: "
                f"{len(payload)}\r\nConnection: {'close' if closing else 'keep-alive'}\r\n\r\n"
                .encode() + payload)
            await writer.drain()
            if closing:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve():
    loop = asyncio.get_running_loop()
    state = {"requests": 0, "quit": asyncio.Event()}
    http = await asyncio.start_server(lambda r, w: http_handler(r, w, state), None, 80)
    echo = await asyncio.start_server(echo_upper, None, 7)
    print("serving http on :80, echo on :7", flush=True)
    await state["quit"].wait()
    await asyncio.sleep(0.05)  # the answer to /quit leaves before the listeners close
    for server in (http, echo):
        server.close()
        await server.wait_closed()
    print(f"served {state['requests']} requests")
    check("served", state["requests"] >= 2, state["requests"])
    no_thread_used(loop)


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self):
        self.received = asyncio.get_running_loop().create_future()

    def datagram_received(self, data, address):
        if not self.received.done():
            self.received.set_result((data, address))

    def error_received(self, error):
        if not self.received.done():
            self.received.set_exception(error)


async def datagram(host, port):
    """A datagram sent before anything else, early in the run: the network may still be coming
    up (the POSIX layer waits for the address, as a blocking send would)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Datagrams, local_addr=("0.0.0.0", 0))
    try:
        transport.sendto(b"ping", (host, port))
        data, address = await asyncio.wait_for(protocol.received, 10)
        check("datagram", data == b"PING" and address == (host, port), (data, address))
    except (OSError, TimeoutError) as error:
        check("datagram", False, repr(error))
    finally:
        transport.close()


async def connect_out(host, port, name, missing, udp_port):
    loop = asyncio.get_running_loop()
    if udp_port:
        await datagram(host, udp_port)
    answers, rest, peer = await exchange(host, port, [b"from the guest\n", b"second line\n"])
    check("connect-ip", answers == [b"HOST: FROM THE GUEST\n", b"HOST: SECOND LINE\n"], answers)
    check("peer", peer == (host, port), peer)
    if name:
        infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        check("resolve", [info[4] for info in infos] == [(host, port)], infos)
        answers, _, peer = await exchange(name, port, [b"by name\n"])
        check("connect-name", answers == [b"HOST: BY NAME\n"] and peer == (host, port), peer)
        # The older interface (gethostbyname_r in libc) goes to the same resolver.
        found = socket.gethostbyname_ex(name)
        check("gethostbyname_ex", found == (name, [], [host]), found)
    if missing:
        try:
            await asyncio.open_connection(missing, port)
            check("missing-name", False, "connected")
        except socket.gaierror as error:
            check("missing-name", error.errno == socket.EAI_NONAME, error)
    no_thread_used(loop)


def main(argv):
    mode = argv[1] if len(argv) > 1 else "loopback"
    if mode == "loopback":
        asyncio.run(loopback())
    elif mode == "serve":
        asyncio.run(serve())
    elif mode == "client":
        name = argv[4] if len(argv) > 4 else None
        missing = argv[5] if len(argv) > 5 else None
        udp_port = int(argv[6]) if len(argv) > 6 else None
        asyncio.run(connect_out(argv[2], int(argv[3]), name, missing, udp_port))
    else:
        print(f"unknown mode {mode!r}: loopback, serve or client")
        return 2
    # asyncio.run() returned: the loop and its default executor (never created) shut down.
    print(f"python-net {mode}: {'ok' if not failures else 'FAILED ' + ' '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
