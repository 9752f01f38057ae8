#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed corpora (see make-corpus.sh, which runs this inside a fresh network namespace).
# Kernel replies are captured as the library receives them: one datagram per seed file.
import errno, os, socket, struct, subprocess, sys, threading, time

out = sys.argv[1]
NETLINK_NETFILTER, NETLINK_ROUTE = 12, 0
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 1, 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NFT = 10 << 8           # NFNL_SUBSYS_NFTABLES
CT = 1 << 8             # NFNL_SUBSYS_CTNETLINK
GETTABLE, GETCHAIN, GETRULE, GETSET, GETSETELEM, GETGEN = 1, 4, 7, 10, 13, 16
NEWTABLE, DELTABLE, NEWSETELEM = 0, 2, 12
BATCH_BEGIN, BATCH_END = 16, 17
AF_INET, AF_INET6 = 2, 10
seq = 1000


def save(target, name, data):
    os.makedirs(f"{out}/{target}", exist_ok=True)
    with open(f"{out}/{target}/{name}", "wb") as f:
        f.write(data)


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def text(kind, value):
    return attr(kind, value.encode() + b"\0")


def message(kind, flags, family, payload, res_id=0):
    global seq
    seq += 1
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + payload
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def nfsocket():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    s.settimeout(5)
    return s


def exchange(s, request):
    """Sends `request`, returns every datagram of the answer (to NLMSG_DONE or the ack)."""
    s.send(request)
    datagrams = []
    while True:
        data = s.recv(1 << 17)
        datagrams.append(data)
        at = 0
        while at + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, at)
            if kind in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                return datagrams
            at += (length + 3) & ~3


def nft(*commands):
    subprocess.run(["nft", "-f", "-"], input="\n".join(commands).encode(), check=True)


def capture_replies(s):
    target = "fuzz-netlink-reply"
    t = text(1, "warren")  # NFTA_*_TABLE / NFTA_TABLE_NAME
    requests = {
        "table": message(NFT | GETTABLE, NLM_F_REQUEST | NLM_F_ACK, AF_INET, t),
        "table-missing": message(NFT | GETTABLE, NLM_F_REQUEST | NLM_F_ACK, AF_INET, text(1, "absent")),
        "chain-base": message(NFT | GETCHAIN, NLM_F_REQUEST | NLM_F_ACK, AF_INET, t + text(3, "prerouting")),
        "chain-regular": message(NFT | GETCHAIN, NLM_F_REQUEST | NLM_F_ACK, AF_INET, t + text(3, "publish")),
        "rules": message(NFT | GETRULE, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t),
        "sets": message(NFT | GETSET, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t),
        "elements-ports": message(NFT | GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t + text(2, "ports")),
        "elements-bound": message(NFT | GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t + text(2, "bound_ports")),
        "elements-backends": message(NFT | GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t + text(2, "backends")),
        "elements-ip6": message(NFT | GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, AF_INET6, t + text(2, "ports")),
        "elements-missing-set": message(NFT | GETSETELEM, NLM_F_REQUEST | NLM_F_DUMP, AF_INET, t + text(2, "absent")),
        "generation": message(NFT | GETGEN, NLM_F_REQUEST | NLM_F_ACK, 0, b""),
    }
    for name, request in requests.items():
        datagrams = exchange(s, request)
        # Each datagram as received, and the answer's datagrams joined (messages, then their end).
        for i, datagram in enumerate(datagrams + ([b"".join(datagrams)] if len(datagrams) > 1 else [])):
            suffix = i if i < len(datagrams) else "all"
            save(target, f"{name}-{suffix}", datagram)
            if name.startswith("elements"):
                save("fuzz-element-message", f"{name}-{suffix}", datagram)
    # A batch refused half-way: acks of the first messages, then an error with the offending
    # attribute's offset (extended ack).
    begin = message(BATCH_BEGIN, NLM_F_REQUEST, 0, b"", res_id=10)
    good = message(NFT | NEWTABLE, NLM_F_REQUEST | NLM_F_ACK | 0x400, AF_INET, text(1, "probe"))
    bad = message(NFT | NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | 0x400, AF_INET, t + text(2, "absent"))
    end = message(BATCH_END, NLM_F_REQUEST, 0, b"", res_id=10)
    s.send(begin + good + bad + end)
    time.sleep(0.2)
    i = 0
    try:
        while True:
            save(target, f"batch-refused-{i}", s.recv(1 << 17, socket.MSG_DONTWAIT))
            i += 1
    except (BlockingIOError, TimeoutError):
        pass


def capture_conntrack():
    target = "fuzz-netlink-reply"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    s = nfsocket()
    for name, kind, flags in (("conntrack-dump", 1, NLM_F_REQUEST | NLM_F_DUMP), ("conntrack-stats", 4, NLM_F_REQUEST | NLM_F_ACK)):
        for i, datagram in enumerate(exchange(s, message(CT | kind, flags, AF_INET if kind == 1 else 0, b""))):
            save(target, f"{name}-{i}", datagram)
    client.close(); server.close(); listener.close()


def capture_route():
    target = "fuzz-netlink-reply"
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    s.bind((0, 0))
    for name, dst in (("route", "127.0.0.1"), ("route-unreachable", "10.1.2.3")):
        rtm = struct.pack("=BBBBBBBBI", AF_INET, 32, 0, 0, 0, 0, 0, 0, 0)
        body = rtm + attr(1, socket.inet_aton(dst))  # RTA_DST
        s.send(struct.pack("=IHHII", 16 + len(body), 26, NLM_F_REQUEST, 1, 0) + body)  # RTM_GETROUTE
        save(target, name, s.recv(1 << 16))


def capture_announcements():
    target = "fuzz-change-feed"
    feed = nfsocket()
    feed.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, 7)  # NFNLGRP_NFTABLES
    changes = {
        "add-element": ['add element ip warren ports { udp . 53 comment "task=dns" : 10.88.0.6 . 53 }'],
        "delete-element": ["delete element ip warren ports { udp . 53 }"],
        "foreign-table": ["add table ip other", "add chain ip other c"],
        "add-rule": ['add rule ip warren publish counter comment "warren-nft: rule"'],
        "flush-set": ["flush set ip warren backends"],
        "delete-table": ["delete table ip other"],
        "add-set": ["add set ip warren extra { type ipv4_addr; }"],
        "elements-ip6": ['add element ip6 warren ports { tcp . 8443 comment "task=web6 name=https" : 2001:db8::6 . 443 }'],
    }
    for name, commands in changes.items():
        nft(*commands)
        time.sleep(0.1)
        datagrams = []
        try:
            while True:
                datagrams.append(feed.recv(1 << 17, socket.MSG_DONTWAIT))
        except (BlockingIOError, TimeoutError):
            pass
        # Each datagram, and all of them joined: a transaction and its NEWGEN in one input.
        for i, datagram in enumerate(datagrams):
            save(target, f"{name}-{i}", datagram)
        save(target, f"{name}-all", b"".join(datagrams))


def handmade():
    specs = ["8080:80", "8080:80/tcp", "10.0.0.1:8080:80/udp", "[2001:db8::10]:8080:80", "8000-8002:9000-9002/udp",
             "0.0.0.0:53:53/udp", "[::]:443:443/sctp", ":8080:80", "2001:db8::10:8080:80", "10.0.0.1:80", "65535:1",
             "65536:1", "0:80", "1-0:1-0", "8080:80/icmp", "[:80:80", "[]:80:80", "[::1]80:80", "80\n:80",
             "1-65535:1-65535", "10.0.0.1:8080:80/tcp/udp", "\xff\x1b[31m:80", "127.0.0.1:8080:80"]
    for i, spec in enumerate(specs):
        save("fuzz-port-spec", f"spec-{i:02}", spec.encode("latin-1"))
    addresses = ["10.88.0.5", "2001:db8::10", "::ffff:10.0.0.1", "0.0.0.0", "::", "127.0.0.1", "::1",
                 "10.88.0.5,2001:db8::5", "10.88.0.5,10.88.0.6", "10.88.0.5:80", "fe80::1%eth0", "[2001:db8::1]",
                 "224.0.0.1", "255.255.255.255", "ff02::1", "010.1.1.1", "1.2.3", "task-1_a.b:c@d/e+f", "web name",
                 "", ",", "10.88.0.5\0", "\x1b]0;x\x07"]
    for i, address in enumerate(addresses):
        save("fuzz-address", f"address-{i:02}", address.encode("latin-1"))
    # [family][set: 0 ports, 1 bound_ports, 2 backends][key length][key][value length][value][comment]
    def element(family, set_index, key, value, comment=b""):
        return bytes([family, set_index, len(key)]) + key + bytes([len(value)]) + value + comment
    v4, v6 = bytes([10, 88, 0, 5]), bytes.fromhex("20010db8000000000000000000000010")
    tcp8080, udp53 = bytes([6, 0, 0, 0, 0x1f, 0x90, 0, 0]), bytes([17, 0, 0, 0, 0, 53, 0, 0])
    seeds = {
        "ports-v4": element(0, 0, tcp8080, v4 + bytes([0, 80, 0, 0]), b"task=web1 name=http"),
        "ports-v6": element(1, 0, udp53, v6 + bytes([0, 53, 0, 0]), b"task=dns"),
        "bound-v4": element(0, 1, bytes([127, 0, 0, 1]) + tcp8080, v4 + bytes([0, 80, 0, 0]), b"task=a"),
        "bound-v6": element(1, 1, v6 + tcp8080, v6 + bytes([0, 80, 0, 0]), b"task=b name="),
        "bound-unspecified": element(0, 1, bytes(4) + tcp8080, v4 + bytes([0, 80, 0, 0]), b"task=c"),
        "backends-v4": element(0, 2, v4 + tcp8080, b""),
        "ports-icmp": element(0, 0, bytes([1, 0, 0, 0, 0, 1, 0, 0]), v4 + bytes(4)),
        "ports-short-key": element(0, 0, bytes([6, 0, 0, 0]), v4),
        "comment-foreign": element(0, 0, tcp8080, v4 + bytes([0, 80, 0, 0]), b"task="),
    }
    for name, seed in seeds.items():
        save("fuzz-element-codec", name, seed)


nft("add table ip warren",
    "add map ip warren ports { type inet_proto . inet_service : ipv4_addr . inet_service; counter; }",
    "add map ip warren bound_ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }",
    "add set ip warren backends { type ipv4_addr . inet_proto . inet_service; counter; }",
    "add map ip warren ingress { typeof meta l4proto . th dport . numgen random mod 256 : ip daddr . th dport; }",
    "add chain ip warren prerouting { type nat hook prerouting priority dstnat; policy accept; }",
    "add chain ip warren publish",
    'add rule ip warren prerouting fib daddr type local jump publish comment "warren-nft: local"',
    "add rule ip warren publish dnat ip to meta l4proto . th dport map @ports",
    'add element ip warren ports { tcp . 8080 comment "task=web1 name=http" : 10.88.0.5 . 80, '
    'udp . 5353 comment "task=dns\\tx" : 10.88.0.7 . 53 }',
    'add element ip warren bound_ports { 127.0.0.1 . tcp . 8081 comment "task=web2" : 10.88.0.5 . 81 }',
    "add element ip warren backends { 10.88.0.5 . tcp . 80 }",
    "add table ip6 warren",
    "add map ip6 warren ports { type inet_proto . inet_service : ipv6_addr . inet_service; }",
    'add element ip6 warren ports { tcp . 8080 comment "task=web1" : 2001:db8::5 . 80 }',
    "add table ip conntrack",
    "add chain ip conntrack out { type filter hook output priority 0; }",
    "add rule ip conntrack out ct state new counter")
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
capture_replies(nfsocket())
capture_conntrack()
capture_route()
capture_announcements()
handmade()
for target in sorted(os.listdir(out)):
    print(f"{target}: {len(os.listdir(f'{out}/{target}'))} seeds")
