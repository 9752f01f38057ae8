#!/usr/bin/env bash
# warren-nft in one minute: builds the project (installing Debian packages if missing), then, in
# throwaway network namespaces (client, host, container), starts a container-like echo server,
# publishes its port with the library, shows `nft list table warren`, sends real traffic through
# it, unpublishes and shows the traffic stop. The machine's own network is never touched: all of it
# happens inside a private user+mount+network namespace that vanishes when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${WARREN_DEMO_INSIDE:-}" ]; then
    tools/setup.sh build
    # A fresh user, mount and network namespace: `ip netns` gets its own /run, nothing leaks out.
    export WARREN_DEMO_INSIDE=1
    if [ "$(id -u)" -eq 0 ]; then
        exec unshare --mount --net --fork -- "$0" "$@"
    else
        exec unshare --user --map-root-user --mount --net --fork -- "$0" "$@"
    fi
fi

mount -t tmpfs tmpfs /run
mkdir -p /run/netns
publisher=$PWD/build/tools/demo-publisher
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

say "Three namespaces: client 192.0.2.2 -> host 192.0.2.1 | host 198.51.100.1 -> container 198.51.100.2"
for ns in client host container; do ip netns add "$ns"; on "$ns" ip link set lo up; done
ip link add c-eth0 netns client type veth peer name h-client netns host
ip link add k-eth0 netns container type veth peer name h-cont netns host
on client ip addr add 192.0.2.2/24 dev c-eth0
on host ip addr add 192.0.2.1/24 dev h-client
on host ip addr add 198.51.100.1/24 dev h-cont
on container ip addr add 198.51.100.2/24 dev k-eth0
for pair in "client c-eth0" "host h-client" "host h-cont" "container k-eth0"; do
    set -- $pair; on "$1" ip link set "$2" up
done
on client ip route add default via 192.0.2.1
on container ip route add default via 198.51.100.1
on host sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'

say "Container: a TCP echo server on port 80 that says who connected"
ip netns exec container timeout 120 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen()
while True:
    c, peer = s.accept()
    data = c.recv(1024)
    c.sendall(b"container echoes " + data.strip() + b" (connection came from " + peer[0].encode() + b")\n")
    c.close()
' &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5

request() {
    on client python3 -c '
import socket, sys
try:
    s = socket.create_connection(("192.0.2.1", 8080), timeout=2)
    s.sendall(b"hello"); print("  client got:", s.recv(1024).decode().strip())
except OSError as e:
    print("  client: no answer from 192.0.2.1:8080 (" + str(e) + ")")
'
}

say "Before publishing: client -> host 192.0.2.1:8080"
request

say "Publish: task web-1, host port 8080/tcp -> container 198.51.100.2:80 (one netlink batch, no process forked)"
on host "$publisher" publish web-1 198.51.100.2 8080:80/tcp
on host "$publisher" list web-1

say "nft list table warren (in the host namespace)"
on host nft list table warren

say "After publishing: client -> host 192.0.2.1:8080"
request

say "Unpublish task web-1 (no container IP needed), then try again"
on host "$publisher" unpublish web-1
request
on host nft list map ip warren ports

say "Done; the namespaces vanish with this process."
