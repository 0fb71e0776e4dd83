#!/bin/sh
# mmdebstrap's hooks for a foreign arch's root file system (arm64 on an
# x86_64 machine): dpkg-deb, which decompresses every package dpkg unpacks
# and is much of an emulated install's time, and dpkg-split, which dpkg
# starts once for each package, are this machine's own while the packages
# install, run natively (the kernel runs them without the emulator). dpkg
# itself, apt and the packages' scripts stay emulated.
#
# usage: native-dpkg-deb.sh ROOT, as mmdebstrap's --extract-hook ("in")
# and its --customize-hook ("out"); MMDEBSTRAP_HOOK says which.
#
# "in" diverts the image's /usr/bin/dpkg-deb to dpkg-deb.distrib (a local
# dpkg diversion: installing the dpkg package writes its dpkg-deb there),
# and puts this machine's dpkg-deb in its place (dpkg-split the same), with
# their libraries and
# loader at the paths they have here (which a foreign root file system does
# not use; a folder that is a link here, such as merged-/usr's /lib64, is
# the same link there). "out" takes all of it away again, so that the root
# file system holds what it would without it. Where one of those paths is
# taken, "in" changes nothing and both stay emulated.
set -eu
root=$1
# What "in" made, one "file|dir|link PATH" a line, for "out" to remove.
made=$root/.xtask-native-dpkg-deb
programs="dpkg-deb dpkg-split"

# A path of the root file system with its links followed there (not here).
inside() { chroot "$root" realpath -m -- "$1"; }
# Where a path's last part is there: its folder with links followed.
place() { printf '%s/%s' "$root$(inside "${1%/*}/")" "${1##*/}"; }

case ${MMDEBSTRAP_HOOK:-} in
extract)
    hosts=
    for program in $programs; do
        hosts="$hosts $(command -v "$program")" || { echo "no $program here: the packages unpack emulated" >&2; exit 0; }
    done
    # Their libraries and the loader, as ldd names them (the loader's line
    # has no "=>").
    # shellcheck disable=SC2086
    paths=$(for host in $hosts; do ldd "$host"; done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
    for path in $paths; do
        dir=${path%/*}
        if [ -e "$root$(inside "$path")" ]; then
            echo "$path is in the root file system already: the packages unpack emulated" >&2
            exit 0
        fi
        if [ -L "$dir" ] && [ ! -e "$root$(inside "$dir")" ]; then
            case $(readlink "$dir") in /* | *..*)
                echo "$dir links outside its folder here: the packages unpack emulated" >&2
                exit 0
                ;;
            esac
        fi
    done
    : >"$made"
    for path in $paths; do
        dir=${path%/*}
        # A folder that is a (relative) link here and missing there: the
        # same link, in the folder it is in there.
        if [ -L "$dir" ] && [ ! -e "$root$(inside "$dir")" ] && [ ! -L "$(place "$dir")" ]; then
            ln -s "$(readlink "$dir")" "$(place "$dir")"
            echo "link $dir" >>"$made"
        fi
        # Written where it is with every link followed there: nothing
        # written here goes through a link.
        real=$(inside "$path")
        # The highest folder made for it.
        up=${real%/*} top=
        while [ -n "$up" ] && [ ! -e "$root$up" ]; do top=$up up=${up%/*}; done
        [ -z "$top" ] || echo "dir $top" >>"$made"
        mkdir -p "$root${real%/*}"
        cp -L "$path" "$root$real"
        echo "file $real" >>"$made"
    done
    bin=$(inside /usr/bin)
    for program in $programs; do
        mv "$root$bin/$program" "$root$bin/$program.distrib"
        cp -L "$(command -v "$program")" "$root$bin/$program"
        printf '/usr/bin/%s\n/usr/bin/%s.distrib\n:\n' "$program" "$program" >>"$root/var/lib/dpkg/diversions"
    done
    ;;
customize)
    [ -f "$made" ] || exit 0
    # The reverse of their order: files before their folders, folders
    # before the links they were made through.
    tac "$made" | while read -r kind path; do
        case $kind in
        link)
            link=$(place "$path")
            [ -L "$link" ] || { echo "$path is no longer a link: not removed" >&2; exit 1; }
            rm "$link"
            ;;
        *)
            [ "$(inside "$path")" = "$path" ] || { echo "$path became a link during the install: not removed" >&2; exit 1; }
            rm -rf "${root:?}$path"
            ;;
        esac
    done
    rm "$made"
    bin=$(inside /usr/bin)
    for program in $programs; do
        mv -f "$root$bin/$program.distrib" "$root$bin/$program"
    done
    # The diversions out of dpkg's files (and of the copy dpkg keeps of
    # them), each entry being three lines.
    for f in diversions diversions-old; do
        file=$root/var/lib/dpkg/$f
        [ -f "$file" ] || continue
        awk -v programs="$programs" 'BEGIN { n = split(programs, p, " "); for (i = 1; i <= n; i++) ours["/usr/bin/" p[i]] = 1 }
             NR % 3 == 1 { a = $0; next } NR % 3 == 2 { b = $0; next }
             !(a in ours && b == a ".distrib" && $0 == ":") { print a; print b; print }' \
            "$file" >"$file.new"
        mv "$file.new" "$file"
    done
    ;;
*)
    echo "native-dpkg-deb.sh runs as mmdebstrap's extract and customize hooks, not its ${MMDEBSTRAP_HOOK:-} hook" >&2
    exit 2
    ;;
esac
