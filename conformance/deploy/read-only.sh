#!/bin/bash
# read-only.sh WRITABLE_DIR COMMAND...: runs COMMAND with every mounted file system read-only except
# WRITABLE_DIR (and /proc, /sys, /dev), as a container with a read-only root file system and a
# writable /tmp has it. Must run in a mount namespace of its own (unshare -m --propagation private),
# so the host's mounts are not touched. Exit 97/98 when the writable folder cannot be mounted.
rw=$1
shift
awk '{print $2}' /proc/self/mounts | sort -u | while read -r m; do
    case "$m" in
        /proc | /proc/* | /sys | /sys/* | /dev | /dev/*) continue ;;
    esac
    mount -o remount,bind,ro "$m" 2>/dev/null || echo "# could not make $m read-only" >&2
done
mount --bind "$rw" "$rw" || exit 97
mount -o remount,bind,rw "$rw" || exit 98
exec "$@"
