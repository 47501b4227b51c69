#!/usr/bin/env python3
"""A TCP proxy in front of a server that can cut the network the way a partition does.

    partition_proxy.py TARGET_PORT PORT_FILE

Listens on a free port of 127.0.0.1 (written to PORT_FILE once it accepts) and carries every
connection to 127.0.0.1:TARGET_PORT. SIGUSR1 cuts the network: nothing more is carried in
either direction and nothing is closed, so both ends wait for an answer that does not come (a
dropped route, a firewall that drops, a switch gone), unlike a stopped server whose refusal is
immediate. New connections are accepted but nothing reaches the server. SIGUSR2 heals it: what
was held is delivered, as TCP retransmits after a partition. SIGTERM stops the proxy. Each cut
and each heal, once in force, prints a line ("cut", "healed") on stdout.
"""
import asyncio
import os
import signal
import sys

CHUNK = 65536


class Network:
    def __init__(self):
        self.healed = asyncio.Event()
        self.healed.set()

    def cut(self):
        self.healed.clear()
        print("cut", flush=True)  # from here on nothing is carried: the caller may go on

    def heal(self):
        self.healed.set()
        print("healed", flush=True)


async def carry(network, reader, writer):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            await network.healed.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    target_port = int(sys.argv[1])
    port_file = sys.argv[2]
    network = Network()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, network.cut)
    loop.add_signal_handler(signal.SIGUSR2, network.heal)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def client(reader, writer):
        await network.healed.wait()  # a connection made during the cut reaches nobody
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(carry(network, reader, up_writer), carry(network, up_reader, writer))

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
