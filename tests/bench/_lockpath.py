"""The `lock` workload's critical path, read off a loopback capture.

In `lock` every operation passes one lock from a client process to
another, so throughput is set by one chain of events per operation, not by
CPU: the server receives a `release`, sends the grant (the reply to a
waiting `acquire`) to the next client, that client wakes, returns from
`acquire`, calls `release`, and its request reaches the server. The
capture (tcpdump on `lo`, timestamps taken as each segment is sent) splits
that chain in two:

* **server path**: a `release` arriving -> the next grant leaving, to
  another client (the server's wake-up, its wait for a CPU, the work);
* **client path**: a grant leaving -> that client's `release` arriving (the
  client's wake-up, its wait for a CPU, CPython's proxy code both ways).

A server can shorten only the first. Pickles are matched by the method
name in the request (`acquire`/`release`); a reply answers the last request
of its connection (CPython clients never pipeline).
"""

import struct

# Link-layer header lengths by pcap link type: Ethernet (lo on Linux), Linux
# cooked capture (`-i any`).
_LINK_HEADER = {1: 14, 113: 16}


def segments(path):
    """(time s, source port, destination port, payload) of every IPv4 TCP
    segment with a payload in a pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(f"{path}: not a little-endian pcap file")
    scale = 1e9 if magic == 0xA1B23C4D else 1e6
    skip = _LINK_HEADER.get(struct.unpack("<I", data[20:24])[0])
    if skip is None:
        raise ValueError(f"{path}: unknown link type")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack("<IIII", data[off : off + 16])
        pkt = data[off + 16 + skip : off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != 6:
            continue
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack(">H", pkt[2:4])[0]
        tcp = pkt[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack(">HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4 :]
        if payload:
            yield sec + frac / scale, sport, dport, payload


def lock_paths(path, server_port):
    """Sums and counts of the server and client paths (seconds)."""
    last_request = {}  # client port -> method of its last request
    granted_at = {}  # client port -> when its last grant left
    last_release = None  # (time, client port)
    server_sum = client_sum = 0.0
    server_n = client_n = 0
    for t, sport, dport, payload in segments(path):
        if dport == server_port:
            method = "release" if b"release" in payload else "acquire" if b"acquire" in payload else None
            last_request[sport] = method
            if method == "release":
                if sport in granted_at:
                    client_sum += t - granted_at.pop(sport)
                    client_n += 1
                last_release = (t, sport)
        elif sport == server_port and last_request.get(dport) == "acquire":
            last_request[dport] = None
            granted_at[dport] = t
            if last_release is not None and last_release[1] != dport:
                server_sum += t - last_release[0]
                server_n += 1
                last_release = None
    return {"server": (server_sum, server_n), "client": (client_sum, client_n)}
