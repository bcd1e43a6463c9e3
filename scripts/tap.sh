#!/usr/bin/env bash
# Create (up) or remove (down) the TAP device(s) the serve and client examples use.
#
#   sudo scripts/tap.sh up            tap0, the host at 192.168.69.100/24 and fdaa::100/64;
#                                     run: cargo run --release --example serve
#   sudo scripts/tap.sh up --client   also tap1, bridged with tap0 on br-sockless, so the
#                                     client example (its own smoltcp stack on tap1) and
#                                     serve (on tap0) reach each other through the kernel
#   sudo scripts/tap.sh down          remove what `up` made
#
# Why root: creating a network interface needs CAP_NET_ADMIN. The devices are made owned by
# the user who ran sudo, so serve and client then open them without privileges.
set -euo pipefail

HOST4=192.168.69.100/24
HOST6=fdaa::100/64
BRIDGE=br-sockless
owner=${SUDO_USER:-$(id -un)}

up() {
    ip tuntap add dev tap0 mode tap user "$owner"
    ip link set tap0 up
    if [ "${1:-}" = "--client" ]; then
        ip tuntap add dev tap1 mode tap user "$owner"
        ip link set tap1 up
        ip link add "$BRIDGE" type bridge
        ip link set tap0 master "$BRIDGE"
        ip link set tap1 master "$BRIDGE"
        ip link set "$BRIDGE" up
        ip addr add "$HOST4" dev "$BRIDGE"
        ip addr add "$HOST6" dev "$BRIDGE" nodad
    else
        ip addr add "$HOST4" dev tap0
        ip addr add "$HOST6" dev tap0 nodad
    fi
    echo "up: the host is ${HOST4%/*} and ${HOST6%/*}; serve will be 192.168.69.1 and fdaa::1"
}

down() {
    ip link del "$BRIDGE" 2>/dev/null || true
    ip link del tap1 2>/dev/null || true
    ip link del tap0 2>/dev/null || true
    echo "down"
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
esac
