#!/usr/bin/env python3
"""pcapcheck: an independent pcap reader for sluice's integration tests.

It shares no code with the C parser (dataplane/parse.c): the header walk is
written again from the RFCs and the rules documented in dataplane/parse.h, so
that a bug in one is not hidden by the same bug in the other.

Commands:
  summary [--vip PROTO/ADDR/PORT]... FILE...
        JSON object keyed by file: packets, bytes, flows, malformed counts,
        and per service endpoint (proto/vip/port) packets, bytes, flows and
        fragmented datagrams.  Without --vip the service endpoint of a TCP or
        UDP flow is the end with the lower port.
  split [--vip PROTO/ADDR/PORT]... FILE FILE...
        flows that appear in more than one file (the "no flow on two groups"
        check); exit 1 if there is any.  With --vip only the flows of those
        services count (fragments, keyed without ports, by address); traffic
        matching no service may legitimately go to every backend.
  same DIR1 DIR2 (or FILE1 FILE2)
        compare same-named .pcap files packet by packet (frame bytes,
        timestamps ignored); exit 1 at the first difference, saying where.
  records FILE
        one line per packet: index, length, flow key (tab separated).

Flow key: (proto, lower endpoint, higher endpoint), an endpoint being
(address, port); ports are 0 for IP fragments (first and later) and for
protocols without ports; an ICMP/ICMPv6 error takes the key of the packet it
quotes.  Non-IP frames have no key ("non-ip 0xNNNN"), malformed frames neither
("bad REASON", REASON as in dataplane/parse.h).

Exit codes: 0 ok, 1 check failed, 2 bad input (usage, unreadable or not a
pcap file); messages name the file, the record and the byte offset.
"""

import ipaddress
import json
import os
import struct
import sys

TPIDS = (0x8100, 0x88A8, 0x9100)
IP6_EXT = (0, 43, 44, 51, 60, 135)
MAX_IP6_EXT = 8
ICMP4_ERRORS = (3, 4, 5, 11, 12)
ICMP6_ERRORS = (1, 2, 3, 4)
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}
PROTO_NUMBERS = {"tcp": 6, "udp": 17}

MAGICS = {  # byte order, timestamp fraction unit in ns
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanosecond timestamps
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
MAX_CAPLEN = 262144


class BadInput(Exception):
    """Input that cannot be checked: exit code 2."""


# ---- pcap files ----

def _open_pcap(path):
    """Open a pcap file and check its header; returns (file positioned at
    the first record, record header struct, ns per timestamp fraction)."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}") from None
    try:
        hdr = f.read(24)
        if hdr[:4] == b"\x0a\x0d\x0d\x0a":
            raise BadInput(f"{path}: pcapng is not supported "
                           "(convert with: editcap -F pcap)")
        if len(hdr) < 24:
            raise BadInput(f"{path}: {len(hdr)} bytes, shorter than a pcap "
                           "file header (24 bytes)")
        if hdr[:4] not in MAGICS:
            raise BadInput(f"{path}: not a pcap file (magic {hdr[:4].hex()})")
        endian, frac_ns = MAGICS[hdr[:4]]
        linktype = struct.unpack(endian + "I", hdr[20:24])[0] & 0xFFFF
        if linktype != 1:
            raise BadInput(f"{path}: link type {linktype}, expected 1 "
                           "(Ethernet)")
    except BaseException:
        f.close()
        raise
    return f, struct.Struct(endian + "IIII"), frac_ns


def _records(path, f, rec, frac_ns):
    """Yield (index, timestamp in ns, frame bytes) for each record of an
    _open_pcap() file."""
    off, idx = 24, 0
    while True:
        h = f.read(16)
        if not h:
            return
        if len(h) < 16:
            raise BadInput(f"{path}: record {idx} at byte {off}: header "
                           f"cut ({len(h)} of 16 bytes)")
        sec, frac, caplen, _ = rec.unpack(h)
        if caplen > MAX_CAPLEN:
            raise BadInput(f"{path}: record {idx} at byte {off}: "
                           f"captured length {caplen} is not plausible")
        data = f.read(caplen)
        if len(data) < caplen:
            raise BadInput(f"{path}: record {idx} at byte {off}: data cut "
                           f"({len(data)} of {caplen} bytes)")
        yield idx, sec * 1000000000 + frac * frac_ns, data
        off += 16 + caplen
        idx += 1


def read_pcap(path):
    """Yield (index, frame bytes) for each record of a pcap file."""
    f, rec, frac_ns = _open_pcap(path)
    with f:
        for idx, _, data in _records(path, f, rec, frac_ns):
            yield idx, data


def read_records(path):
    """([(timestamp in ns, frame bytes)] of a pcap file, whether its
    timestamps are in ns)."""
    f, rec, frac_ns = _open_pcap(path)
    with f:
        recs = [(ts, data) for _, ts, data in _records(path, f, rec, frac_ns)]
    return recs, frac_ns == 1


# ---- packets ----

class Pkt:
    """What the reader learnt about one frame."""
    __slots__ = ("bad", "family", "ethertype", "proto", "src", "dst",
                 "sport", "dport", "frag", "icmp_err", "dgram")

    def __init__(self):
        self.bad = None      # reason name when malformed
        self.family = 0      # 0 = not IP
        self.ethertype = None
        self.proto = None
        self.src = self.dst = None
        self.sport = self.dport = 0
        self.frag = None     # None, "first" or "later"
        self.icmp_err = False
        self.dgram = None    # identity of a fragment's datagram

    def key(self):
        """Canonical flow key, or None for non-IP and malformed frames."""
        if self.bad or not self.family:
            return None
        a = (self.src.ljust(16, b"\0"), self.sport)
        b = (self.dst.ljust(16, b"\0"), self.dport)
        if self.frag:
            a, b = (a[0], 0), (b[0], 0)
        lo, hi = (a, b) if a <= b else (b, a)
        return (self.family, self.proto, lo[0], lo[1], hi[0], hi[1])


def be16(b, o):
    return b[o] << 8 | b[o + 1]


def tcp_dst_443(f):
    """libpcap's "tcp dst port 443" on an Ethernet frame, as its compiled
    program reads it: no VLAN tag, IPv6 next header TCP, or IPv4 TCP and
    not a later fragment; a read past the frame means no match."""
    if len(f) < 14:
        return False
    et = be16(f, 12)
    if et == 0x86DD:
        return len(f) >= 58 and f[20] == 6 and be16(f, 56) == 443
    if et != 0x0800 or len(f) < 24 or f[23] != 6 or be16(f, 20) & 0x1FFF:
        return False
    x = 4 * (f[14] & 15)
    return len(f) >= 14 + x + 4 and be16(f, 14 + x + 2) == 443


class Malformed(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def decode(b):
    """Decode one Ethernet frame; malformed frames get p.bad."""
    p = Pkt()
    try:
        decode_eth(b, p)
    except Malformed as m:
        p.bad = m.reason
    return p


def decode_eth(b, p):
    n = len(b)
    if n < 14:
        raise Malformed("eth_trunc")
    et, off, tags = be16(b, 12), 14, 0
    while et in TPIDS:
        if tags == 2:
            raise Malformed("vlan_depth")
        if off + 4 > n:
            raise Malformed("vlan_trunc")
        et = be16(b, off + 2)
        off += 4
        tags += 1
    p.ethertype = et
    if et == 0x0800:
        decode_ip4(b, off, p)
    elif et == 0x86DD:
        decode_ip6(b, off, p)


def decode_ip4(b, off, p):
    avail = len(b) - off
    if avail < 20:
        raise Malformed("ip4_trunc")
    if b[off] >> 4 != 4:
        raise Malformed("ip4_version")
    ihl = (b[off] & 15) * 4
    if ihl < 20 or ihl > avail:
        raise Malformed("ip4_ihl")
    tot = be16(b, off + 2)
    if tot < ihl or tot > avail:
        raise Malformed("ip4_len")
    fo = be16(b, off + 6)
    offset, more = (fo & 0x1FFF) * 8, fo & 0x2000
    if offset + tot - ihl > 65535:
        raise Malformed("ip4_frag")
    p.family, p.proto = 4, b[off + 9]
    p.src, p.dst = bytes(b[off + 12:off + 16]), bytes(b[off + 16:off + 20])
    if offset or more:
        p.frag = "later" if offset else "first"
        p.dgram = (4, p.src, p.dst, p.proto, be16(b, off + 4))
        if offset:
            return
    decode_l4(b, off + ihl, off + tot, p)


def walk6(b, o, end, nh):
    """Walk IPv6 extension headers from o (bounded by end).  Returns
    (upper protocol, its offset, fragment: None/"first"/"later", fragment
    id); raises Malformed."""
    count, frag, fid = 0, None, None
    while nh in IP6_EXT:
        if nh == 0 and count:
            raise Malformed("ip6_ext_chain")
        count += 1
        if count > MAX_IP6_EXT:
            raise Malformed("ip6_ext_chain")
        if nh == 44:
            hl = 8
        else:
            if o + 2 > end:
                raise Malformed("ip6_ext_trunc")
            hl = (b[o + 1] + 2) * 4 if nh == 51 else (b[o + 1] + 1) * 8
        if o + hl > end:
            raise Malformed("ip6_ext_trunc")
        if nh == 44:
            fo = be16(b, o + 2)
            fid = bytes(b[o + 4:o + 8])
            if fo & 0xFFF8:
                return b[o], o + hl, "later", fid
            if fo & 1:
                frag = "first"
        nh = b[o]
        o += hl
    return nh, o, frag, fid


def decode_ip6(b, off, p):
    avail = len(b) - off
    if avail < 40:
        raise Malformed("ip6_trunc")
    if b[off] >> 4 != 6:
        raise Malformed("ip6_version")
    plen = be16(b, off + 4)
    if plen == 0 or 40 + plen > avail:
        raise Malformed("ip6_len")
    end = off + 40 + plen
    p.family = 6
    p.src, p.dst = bytes(b[off + 8:off + 24]), bytes(b[off + 24:off + 40])
    nh, o, frag, fid = walk6(b, off + 40, end, b[off + 6])
    p.proto, p.frag = nh, frag
    if frag:
        p.dgram = (6, p.src, p.dst, fid)
    if frag == "later" or nh == 59:
        return
    decode_l4(b, o, end, p)


def decode_l4(b, o, end, p):
    rem = end - o
    if p.proto == 6:
        if rem < 20:
            raise Malformed("tcp_trunc")
        doff = (b[o + 12] >> 4) * 4
        if doff < 20 or doff > rem:
            raise Malformed("tcp_doff")
        p.sport, p.dport = be16(b, o), be16(b, o + 2)
    elif p.proto == 17:
        if rem < 8:
            raise Malformed("udp_trunc")
        ulen = be16(b, o + 4)
        # a first fragment's UDP length is the whole datagram's
        if ulen < 8 or (ulen > rem and p.frag != "first"):
            raise Malformed("udp_len")
        p.sport, p.dport = be16(b, o), be16(b, o + 2)
    elif p.proto in (1, 58):
        if rem < 8:
            raise Malformed("icmp_trunc")
        errors = ICMP4_ERRORS if p.proto == 1 else ICMP6_ERRORS
        if b[o] in errors and not p.frag:
            quote(b, o + 8, end, p)


def quote(b, q, end, p):
    """Take over the quoted packet's addresses and ports if the quote has
    them; a short or broken quote leaves p as it is (not malformed).  The
    quoted packet is usually cut: its length fields are not checked."""
    n = end - q
    if p.proto == 1:
        if n < 20 or b[q] >> 4 != 4:
            return
        ihl = (b[q] & 15) * 4
        if ihl < 20 or ihl > n:
            return
        proto, l4 = b[q + 9], q + ihl
        src, dst = bytes(b[q + 12:q + 16]), bytes(b[q + 16:q + 20])
        fo = be16(b, q + 6)
        frag = "later" if fo & 0x1FFF else "first" if fo & 0x2000 else None
        family = 4
    else:
        if n < 40 or b[q] >> 4 != 6:
            return
        src, dst = bytes(b[q + 8:q + 24]), bytes(b[q + 24:q + 40])
        try:
            proto, l4, frag, _ = walk6(b, q + 40, end, b[q + 6])
        except Malformed:
            return
        family = 6
    sport = dport = 0
    if proto in (6, 17) and not frag:
        if l4 + 4 > end:
            return
        sport, dport = be16(b, l4), be16(b, l4 + 2)
    p.family, p.proto, p.src, p.dst = family, proto, src, dst
    p.sport, p.dport, p.frag, p.icmp_err = sport, dport, frag, True


# ---- presentation ----

def addr_text(family, a):
    if family == 4:
        return str(ipaddress.IPv4Address(a[:4]))
    return str(ipaddress.IPv6Address(a))


def proto_text(proto):
    return PROTO_NAMES.get(proto, f"proto-{proto}")


def endpoint_text(family, a, port):
    t = addr_text(family, a)
    return f"[{t}]:{port}" if family == 6 else f"{t}:{port}"


def key_text(k):
    fam, proto, a, pa, b, pb = k
    return (f"{proto_text(proto)} {endpoint_text(fam, a, pa)} "
            f"{endpoint_text(fam, b, pb)}")


def record_text(p):
    if p.bad:
        return f"bad {p.bad}"
    if not p.family:
        return f"non-ip 0x{p.ethertype:04x}"
    return key_text(p.key())


def service_text(svc):
    fam, proto, a, port = svc
    return f"{proto_text(proto)}/{addr_text(fam, a)}/{port}"


def parse_vip(spec):
    parts = spec.split("/")
    if len(parts) != 3 or parts[0] not in PROTO_NUMBERS:
        raise BadInput(f"--vip {spec}: expected PROTO/ADDRESS/PORT with "
                       "PROTO tcp or udp, e.g. tcp/192.0.2.10/443")
    try:
        ip = ipaddress.ip_address(parts[1])
    except ValueError:
        raise BadInput(f"--vip {spec}: '{parts[1]}' is not an IP "
                       "address") from None
    if not parts[2].isdigit() or not 0 < int(parts[2]) < 65536:
        raise BadInput(f"--vip {spec}: port '{parts[2]}' is not 1..65535")
    fam = 4 if ip.version == 4 else 6
    return (fam, PROTO_NUMBERS[parts[0]], ip.packed.ljust(16, b"\0"),
            int(parts[2]))


# ---- commands ----

def service_of(p, vips):
    """Service endpoint (family, proto, address, port) of a TCP/UDP packet
    with ports, or None."""
    if p.proto not in (6, 17) or not (p.sport or p.dport):
        return None
    s = (p.family, p.proto, p.src.ljust(16, b"\0"), p.sport)
    d = (p.family, p.proto, p.dst.ljust(16, b"\0"), p.dport)
    if vips is not None:
        return d if d in vips else s if s in vips else None
    if p.sport == p.dport:
        return None
    return s if p.sport < p.dport else d


def summarize(path, vips):
    pkts = [(len(data), decode(data)) for _, data in read_pcap(path)]
    # later fragments carry no ports: they belong where their first went
    first_svc = {}
    for _, p in pkts:
        if p.frag == "first" and not p.icmp_err:
            first_svc[p.dgram] = service_of(p, vips)
    out = {"packets": len(pkts), "bytes": sum(n for n, _ in pkts),
           "ip_packets": 0, "non_ip": 0, "malformed": 0}
    bad, flows, dgrams, svcs = {}, set(), set(), {}
    for n, p in pkts:
        if p.bad:
            out["malformed"] += 1
            bad[p.bad] = bad.get(p.bad, 0) + 1
            continue
        if not p.family:
            out["non_ip"] += 1
            continue
        out["ip_packets"] += 1
        k = p.key()
        flows.add(k)
        frag = p.frag and not p.icmp_err
        if frag:
            dgrams.add(p.dgram)
            svc = first_svc.get(p.dgram)
        else:
            svc = service_of(p, vips)
        if svc is None:
            continue
        s = svcs.setdefault(svc, {"packets": 0, "bytes": 0, "flows": set(),
                                  "frag_datagrams": set()})
        s["packets"] += 1
        s["bytes"] += n
        if frag:
            s["frag_datagrams"].add(p.dgram)
        else:
            s["flows"].add(k)
    out["flows"] = len(flows)
    out["frag_datagrams"] = len(dgrams)
    out["malformed_by_reason"] = dict(sorted(bad.items()))
    out["services"] = {
        service_text(k): {"packets": v["packets"], "bytes": v["bytes"],
                          "flows": len(v["flows"]),
                          "frag_datagrams": len(v["frag_datagrams"])}
        for k, v in sorted(svcs.items())}
    return out


def parse_args(args):
    """Split --vip options from file arguments."""
    vips, files = None, []
    i = 0
    while i < len(args):
        if args[i] == "--vip":
            if i + 1 >= len(args):
                raise BadInput("--vip needs a value (PROTO/ADDRESS/PORT)")
            spec = args[i + 1]
            i += 2
        elif args[i].startswith("--vip="):
            spec = args[i][6:]
            i += 1
        elif args[i].startswith("-"):
            raise BadInput(f"unknown option '{args[i]}'")
        else:
            files.append(args[i])
            i += 1
            continue
        vips = vips or set()
        vips.add(parse_vip(spec))
    return vips, files


def in_services(k, vips):
    """Whether flow key k belongs to one of the services in vips: one end is
    a service endpoint, or, for a fragment's key (ports 0), a service
    address of that protocol."""
    fam, proto, a, pa, b, pb = k
    for addr, port in ((a, pa), (b, pb)):
        if (fam, proto, addr, port) in vips:
            return True
        if pa == 0 and pb == 0 and any(v[:3] == (fam, proto, addr)
                                       for v in vips):
            return True
    return False


def cmd_summary(args):
    vips, files = parse_args(args)
    if not files:
        raise BadInput("summary: no pcap file given")
    print(json.dumps({f: summarize(f, vips) for f in files}, indent=2))
    return 0


def cmd_split(args):
    vips, files = parse_args(args)
    if len(files) < 2:
        raise BadInput("split: give at least two pcap files")
    seen = {}
    for f in files:
        for _, data in read_pcap(f):
            k = decode(data).key()
            if k is not None and (vips is None or in_services(k, vips)):
                per = seen.setdefault(k, {})
                per[f] = per.get(f, 0) + 1
    shared = sorted((k for k, per in seen.items() if len(per) > 1),
                    key=key_text)
    for k in shared:
        where = " ".join(f"{f}:{n}" for f, n in seen[k].items())
        print(f"{key_text(k)}\t{where}")
    if shared:
        print(f"split: {len(shared)} of {len(seen)} flows appear in more "
              "than one file")
        return 1
    print(f"split: no flow in more than one file ({len(seen)} flows)")
    return 0


def compare_files(a, b):
    """None if same frames, else a description of the first difference."""
    ra, rb = read_pcap(a), read_pcap(b)
    n = 0
    while True:
        x, y = next(ra, None), next(rb, None)
        if x is None and y is None:
            return None, n
        if x is None or y is None:
            short = a if x is None else b
            return (f"{short} ends after {n} packets, the other file has "
                    "more"), n
        fa, fb = x[1], y[1]
        if fa != fb:
            if len(fa) != len(fb):
                return (f"packet {n} differs: length {len(fa)} in {a}, "
                        f"{len(fb)} in {b}"), n
            at = next(i for i in range(len(fa)) if fa[i] != fb[i])
            return (f"packet {n} differs at byte {at}: 0x{fa[at]:02x} in "
                    f"{a}, 0x{fb[at]:02x} in {b}"), n
        n += 1


def cmd_same(args):
    if len(args) != 2:
        raise BadInput("same: give two directories (or two pcap files)")
    d1, d2 = args
    if os.path.isfile(d1) and os.path.isfile(d2):
        pairs = [(d1, d2)]
    else:
        for d in (d1, d2):
            if not os.path.isdir(d):
                raise BadInput(f"same: {d}: not a directory")
        n1 = {f for f in os.listdir(d1) if f.endswith(".pcap")}
        n2 = {f for f in os.listdir(d2) if f.endswith(".pcap")}
        for name in sorted(n1 ^ n2):
            print(f"same: {name} only in {d1 if name in n1 else d2}")
            return 1
        if not n1:
            raise BadInput(f"same: no .pcap file in {d1} or {d2}")
        pairs = [(os.path.join(d1, f), os.path.join(d2, f))
                 for f in sorted(n1)]
    total = 0
    for a, b in pairs:
        diff, n = compare_files(a, b)
        if diff:
            print(f"same: {diff}")
            return 1
        total += n
    print(f"same: {len(pairs)} file(s), {total} packets identical")
    return 0


def cmd_records(args):
    if len(args) != 1:
        raise BadInput("records: give one pcap file")
    out = sys.stdout
    for idx, data in read_pcap(args[0]):
        out.write(f"{idx}\t{len(data)}\t{record_text(decode(data))}\n")
    return 0


COMMANDS = {"summary": cmd_summary, "split": cmd_split, "same": cmd_same,
            "records": cmd_records}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stdout if len(argv) >= 2
              else sys.stderr)
        return 0 if len(argv) >= 2 else 2
    cmd = COMMANDS.get(argv[1])
    if cmd is None:
        print(f"pcapcheck: unknown command '{argv[1]}' (expected one of: "
              f"{', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    try:
        return cmd(argv[2:])
    except BadInput as e:
        print(f"pcapcheck: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
