#!/usr/bin/python3
"""Minimal RFC 8489 STUN Binding client over TCP (standard library only).

Usage:
    tcp_binding.py HOST PORT [--split] [--pipeline N] [--timeout SECONDS]
                   [--fingerprint-optional]

Prints on stdout:
    local <ip> <port>       local address of the TCP connection
    mapped <ip> <port>      XOR-MAPPED-ADDRESS of each response, in the
                            order the requests were sent
Diagnostics go to stderr.  Exit status 0 only if every response was a valid
Binding success response carrying the expected transaction id, a correct
FINGERPRINT and an XOR-MAPPED-ADDRESS.

--split       send the request in several small TCP writes with short sleeps
--pipeline N  send N requests back-to-back in a single write, then read N
              responses (they may come back in any order)
"""

import argparse
import binascii
import os
import socket
import struct
import sys
import time

MAGIC_COOKIE = 0x2112A442
FINGERPRINT_XOR = 0x5354554E

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

ATTR_MAPPED_ADDRESS = 0x0001
ATTR_ERROR_CODE = 0x0009
ATTR_UNKNOWN_ATTRIBUTES = 0x000A
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_SOFTWARE = 0x8022
ATTR_FINGERPRINT = 0x8028


class ProtocolError(Exception):
    pass


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def crc_fingerprint(data):
    return (binascii.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def build_binding_request(tid):
    """Binding request whose only attribute is FINGERPRINT."""
    # The length field must already count the FINGERPRINT (8 bytes) when the
    # CRC is computed.
    header = struct.pack("!HHI", BINDING_REQUEST, 8, MAGIC_COOKIE) + tid
    crc = crc_fingerprint(header)
    return header + struct.pack("!HHI", ATTR_FINGERPRINT, 4, crc)


def recv_exact(sock, count):
    chunks = []
    remaining = count
    while remaining > 0:
        chunk = sock.recv(remaining)
        if not chunk:
            got = count - remaining
            raise ProtocolError(
                "connection closed by server after %d of %d expected bytes" % (got, count))
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(sock):
    header = recv_exact(sock, 20)
    mtype, mlen, cookie = struct.unpack("!HHI", header[:8])
    if mtype & 0xC000:
        raise ProtocolError("first two bits of message type are not zero: 0x%04x" % mtype)
    if cookie != MAGIC_COOKIE:
        raise ProtocolError("bad magic cookie 0x%08x" % cookie)
    if mlen % 4:
        raise ProtocolError("message length %d is not a multiple of 4" % mlen)
    body = recv_exact(sock, mlen)
    return header + body


def parse_attributes(msg):
    """Return a list of (type, value, offset_of_attribute_header)."""
    attrs = []
    pos = 20
    end = len(msg)
    while pos < end:
        if pos + 4 > end:
            raise ProtocolError("truncated attribute header at offset %d" % pos)
        atype, alen = struct.unpack("!HH", msg[pos:pos + 4])
        vstart = pos + 4
        vend = vstart + alen
        if vend > end:
            raise ProtocolError("attribute 0x%04x overruns the message" % atype)
        attrs.append((atype, msg[vstart:vend], pos))
        pos = vstart + ((alen + 3) & ~3)
    if pos != end:
        raise ProtocolError("attribute padding overruns the message")
    return attrs


def decode_xor_address(value, tid):
    if len(value) < 4:
        raise ProtocolError("XOR-MAPPED-ADDRESS too short")
    family = value[1]
    xport = struct.unpack("!H", value[2:4])[0]
    port = xport ^ (MAGIC_COOKIE >> 16)
    key = struct.pack("!I", MAGIC_COOKIE) + tid
    if family == 0x01:
        if len(value) != 8:
            raise ProtocolError("IPv4 XOR-MAPPED-ADDRESS has length %d" % len(value))
        raw = bytes(a ^ b for a, b in zip(value[4:8], key[:4]))
        return socket.inet_ntop(socket.AF_INET, raw), port
    if family == 0x02:
        if len(value) != 20:
            raise ProtocolError("IPv6 XOR-MAPPED-ADDRESS has length %d" % len(value))
        raw = bytes(a ^ b for a, b in zip(value[4:20], key))
        return socket.inet_ntop(socket.AF_INET6, raw), port
    raise ProtocolError("unknown address family 0x%02x" % family)


def check_response(msg, fingerprint_required):
    """Validate a Binding success response; return (tid, ip, port)."""
    mtype = struct.unpack("!H", msg[:2])[0]
    tid = msg[8:20]
    attrs = parse_attributes(msg)

    if mtype == BINDING_ERROR:
        detail = ""
        for atype, value, _ in attrs:
            if atype == ATTR_ERROR_CODE and len(value) >= 4:
                code = (value[2] & 0x07) * 100 + value[3]
                reason = value[4:].decode("utf-8", "replace")
                detail = " %d %s" % (code, reason)
        raise ProtocolError("got Binding error response%s" % detail)
    if mtype != BINDING_SUCCESS:
        raise ProtocolError("unexpected message type 0x%04x (want 0x0101)" % mtype)

    fingerprint_seen = False
    for index, (atype, value, offset) in enumerate(attrs):
        if atype != ATTR_FINGERPRINT:
            continue
        fingerprint_seen = True
        if index != len(attrs) - 1:
            raise ProtocolError("FINGERPRINT is not the last attribute")
        if len(value) != 4:
            raise ProtocolError("FINGERPRINT has length %d" % len(value))
        # The length field already covers the FINGERPRINT attribute, so the
        # CRC runs over the message as received, up to the attribute header.
        expected = crc_fingerprint(msg[:offset])
        got = struct.unpack("!I", value)[0]
        if got != expected:
            raise ProtocolError("FINGERPRINT mismatch: got 0x%08x, computed 0x%08x"
                                % (got, expected))
    if not fingerprint_seen and fingerprint_required:
        raise ProtocolError("response has no FINGERPRINT attribute")

    xma = [value for atype, value, _ in attrs if atype == ATTR_XOR_MAPPED_ADDRESS]
    if not xma:
        raise ProtocolError("response has no XOR-MAPPED-ADDRESS")
    ip, port = decode_xor_address(xma[0], tid)
    for atype, value, _ in attrs:
        if atype == ATTR_SOFTWARE:
            log("# SOFTWARE: %s" % value.decode("utf-8", "replace"))
    return tid, ip, port


def send_split(sock, data):
    """Send data in several small writes with short pauses between them."""
    cuts = [1, 3, 7, 13, 20, 22, 25]
    pieces = []
    start = 0
    for cut in cuts:
        if cut >= len(data):
            break
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    for number, piece in enumerate(pieces):
        if number:
            time.sleep(0.05)
        sock.sendall(piece)
    log("# sent %d bytes in %d writes: %s"
        % (len(data), len(pieces), " ".join(str(len(p)) for p in pieces)))


def main():
    parser = argparse.ArgumentParser(description="STUN Binding over TCP")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--split", action="store_true",
                        help="send the request in several small writes")
    parser.add_argument("--pipeline", type=int, default=1, metavar="N",
                        help="send N requests in one write")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--fingerprint-optional", action="store_true",
                        help="accept responses without FINGERPRINT")
    args = parser.parse_args()
    if args.pipeline < 1:
        parser.error("--pipeline must be at least 1")

    try:
        infos = socket.getaddrinfo(args.host, args.port, socket.AF_UNSPEC,
                                   socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        log("error: cannot resolve %s: %s" % (args.host, exc))
        return 2
    family, socktype, proto, _, address = infos[0]

    sock = socket.socket(family, socktype, proto)
    sock.settimeout(args.timeout)
    try:
        sock.connect(address)
    except OSError as exc:
        log("error: cannot connect to %s port %d: %s" % (args.host, args.port, exc))
        return 2
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    local = sock.getsockname()
    print("local %s %d" % (local[0], local[1]), flush=True)

    tids = [os.urandom(12) for _ in range(args.pipeline)]
    requests = [build_binding_request(tid) for tid in tids]
    pending = list(tids)
    results = {}
    try:
        if args.split:
            for request in requests:
                send_split(sock, request)
        else:
            sock.sendall(b"".join(requests))

        while pending:
            msg = read_message(sock)
            tid, ip, port = check_response(msg, not args.fingerprint_optional)
            if tid not in pending:
                if tid in results:
                    raise ProtocolError("duplicate response for transaction %s" % tid.hex())
                raise ProtocolError("response with unknown transaction id %s" % tid.hex())
            pending.remove(tid)
            results[tid] = (ip, port)
            log("# response for transaction %s: %s port %d" % (tid.hex(), ip, port))
    except socket.timeout:
        log("error: timed out waiting for %d response(s)" % len(pending))
        return 1
    except (ProtocolError, OSError) as exc:
        log("error: %s" % exc)
        return 1
    finally:
        sock.close()

    for tid in tids:
        ip, port = results[tid]
        print("mapped %s %d" % (ip, port), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
