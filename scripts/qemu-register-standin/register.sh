#!/bin/sh
# usage: register [--reset] [-p yes|no] | register --install NAME,NAME|all
set -eu
reset=no
persistent=no
install=all
while [ $# -gt 0 ]; do
    case "$1" in
        --reset) reset=yes ;;
        -p|--persistent) persistent="$2"; shift ;;
        --install) install="$2" persistent=yes; shift ;;
        *) echo "register: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
dir=/proc/sys/fs/binfmt_misc
[ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir"
if [ "$reset" = yes ]; then
    for entry in "$dir"/qemu-*; do
        [ -e "$entry" ] && echo -1 > "$entry"
    done
fi
flags=""
[ "$persistent" = yes ] && flags=F
while read -r qemu docker magic mask; do
    case ",$install," in ,all,|*",$docker,"*) ;; *) continue ;; esac
    if [ -e "$dir/qemu-$qemu" ]; then
        echo "qemu-$qemu: already registered"
        continue
    fi
    printf '%s\n' ":qemu-$qemu:M::$magic:$mask:/usr/bin/qemu-$qemu-static:$flags" > "$dir/register"
    echo "qemu-$qemu: registered with flags $flags"
done < /etc/xtask-binfmt-entries
