#!/bin/bash
# Container health check: GET /healthz on the admin listener, with bash's /dev/tcp (the runtime image has
# no HTTP client). Exit 0 when the answer is 200, 1 otherwise. The address comes from TURN__ADMINLISTEN
# (the image sets 0.0.0.0:9641); a wildcard address is checked through loopback.
set -u
listen=${TURN__ADMINLISTEN:-127.0.0.1:9641}
host=${listen%:*}
port=${listen##*:}
host=${host#[}
host=${host%]}
case "$host" in
    0.0.0.0 | '') host=127.0.0.1 ;;
    :: | 0:0:0:0:0:0:0:0) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || { echo "unhealthy: cannot connect to $host port $port"; exit 1; }
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
status=""
IFS=$' \t\r' read -r -t 4 _ status _ <&3
exec 3<&-
if [ "$status" = 200 ]; then
    exit 0
fi
echo "unhealthy: /healthz answered '${status:-nothing}'"
exit 1
