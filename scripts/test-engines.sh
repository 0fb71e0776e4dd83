#!/usr/bin/env bash
# The other engines the tests build on, all on this machine:
# - a second dockerd (its own data root, exec root, socket and bridge), reached
#   over ssh://xtask-remote@127.0.0.1:2222 through an sshd that listens on
#   loopback only and lets one key-only user in; it holds the aarch64
#   stand-in under a name no other engine has (xtask-remote-only:aarch64);
# - podman as root, configured for this host (runc refuses the host's process
#   and open-file limits, so containers get lower ones);
# - rootless podman for the user xtask-rootless (vfs storage; builds use
#   --network none, as slirp4netns cannot open /dev/net/tun here).
# Needs the stand-in images (scripts/test.sh builds them first); with
# --no-aarch64, only the x86_64 one, and the aarch64 stand-in is not put on the
# second daemon (a later run without it does that, or one with
# --aarch64-only, which does only that). Safe to run again: it skips what is
# in place. Prints the environment the tests read.
#
# With --third, only a third dockerd (a socket, no ssh) holding copies of
# every stand-in, and the docker context xtask-third that names it: the
# engine of the test binaries scripts/test.sh runs beside the others
# (DOCKER_CONTEXT=xtask-third), so that each stream's "nothing of ours is
# left" sees its own. A context, not DOCKER_HOST: the engine is then "docker"
# in every message, as the tests expect it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "scripts/test-engines.sh sets up daemons and users: run it as root"

state=/var/lib/xtask-test
run=/run/xtask-test
d2_sock=$run/d2/docker.sock
d2="unix://$d2_sock"
mkdir -p "$state/ssh" "$state/bin" "$run"

# The aarch64 stand-in on the second daemon, under a name no other engine has.
aarch64_on_the_second_daemon() {
    say "the aarch64 stand-in on the second daemon only, as xtask-remote-only:aarch64"
    local want have
    want=$(docker image inspect --format '{{.Id}}' xtask-standin:aarch64)
    have=$(docker --host "$d2" image inspect --format '{{.Id}}' xtask-remote-only:aarch64 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
        docker save xtask-standin:aarch64 | docker --host "$d2" load -q
        docker --host "$d2" tag xtask-standin:aarch64 xtask-remote-only:aarch64
        docker --host "$d2" rmi xtask-standin:aarch64 >/dev/null
    fi
    echo "engines ready" >&2
}
if [ "${1:-}" = --aarch64-only ]; then
    docker --host "$d2" version >/dev/null 2>&1 \
        || die "no second daemon answers at $d2: run scripts/test-engines.sh without --aarch64-only"
    aarch64_on_the_second_daemon
    exit 0
fi

say "packages for the other engines"
missing=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v podman >/dev/null || missing+=(podman)
command -v newuidmap >/dev/null || missing+=(uidmap)
command -v runc >/dev/null || missing+=(runc)
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A dockerd of its own (data root, exec root, socket, bridge), unless one
# answers there: NAME (d2, d3), its bridge's subnet's third number, what to
# call it.
dockerd_of_its_own() {
    local name=$1 net=$2 what=$3 host="unix://$run/$1/docker.sock"
    if docker --host "$host" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        return
    fi
    # A bridge of its own: with --bridge=none it would delete the first daemon's docker0.
    ip link show "xt$name" >/dev/null 2>&1 || {
        ip link add name "xt$name" type bridge
        ip addr add "10.$net.0.1/24" dev "xt$name"
        ip link set "xt$name" up
    }
    # Its containers reach the package registries as the first daemon's do
    # (it runs with --iptables=false, so that it leaves the first one's rules
    # alone): masqueraded out, and forwarded both ways.
    iptables -t nat -C POSTROUTING -s "10.$net.0.0/24" ! -o "xt$name" -j MASQUERADE 2>/dev/null \
        || iptables -t nat -A POSTROUTING -s "10.$net.0.0/24" ! -o "xt$name" -j MASQUERADE
    iptables -C FORWARD -i "xt$name" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "xt$name" -j ACCEPT
    iptables -C FORWARD -o "xt$name" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null \
        || iptables -I FORWARD -o "xt$name" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    mkdir -p "$state/$name" "$run/$name"
    nohup dockerd --data-root "$state/$name/data" --exec-root "$run/$name/exec" \
        --pidfile "$run/$name/pid" --host "$host" --group docker --bridge "xt$name" \
        --iptables=false --ip-masq=false >"$state/$name/dockerd.log" 2>&1 &
    for _ in $(seq 60); do
        docker --host "$host" version >/dev/null 2>&1 && break
        sleep 1
    done
    docker --host "$host" version --format "$what: server {{.Server.Version}}" >&2 \
        || die "the $what did not answer within 60 s (see $state/$name/dockerd.log)"
}

if [ "${1:-}" = --third ]; then
    d3="unix://$run/d3/docker.sock"
    say "a third dockerd ($d3) with every stand-in"
    dockerd_of_its_own d3 214 "third daemon"
    docker context inspect xtask-third >/dev/null 2>&1 \
        || docker context create xtask-third --docker "host=$d3" >/dev/null
    missing=()
    images=$(docker images --filter 'reference=xtask-standin*' --format '{{.Repository}}:{{.Tag}}') \
        || die "the first daemon did not list its stand-ins (is it running? scripts/setup-host.sh starts it)"
    for image in $images; do
        want=$(docker image inspect --format '{{.Id}}' "$image")
        have=$(docker --host "$d3" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
        [ "$want" = "$have" ] || missing+=("$image")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        start=$SECONDS
        docker save "${missing[@]}" | docker --host "$d3" load -q >/dev/null
        echo "copied ${#missing[*]} images in $((SECONDS - start)) s: ${missing[*]}" >&2
    fi
    echo "third daemon ready" >&2
    exit 0
fi

say "a second dockerd ($d2)"
dockerd_of_its_own d2 213 "second daemon"

say "sshd on 127.0.0.1:2222 for the user xtask-remote"
id xtask-remote >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups docker xtask-remote
# A locked account is refused even with a key; '*' allows no password either.
usermod --password '*' xtask-remote
[ -f "$state/ssh/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/ssh/host_key"
[ -f "$state/ssh/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/ssh/client_key"
cp "$state/ssh/client_key.pub" "$state/ssh/authorized_keys"
chmod 644 "$state/ssh/authorized_keys"
cat >"$state/ssh/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $state/ssh/host_key
PidFile $run/sshd.pid
AuthorizedKeysFile $state/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers xtask-remote
UsePAM no
# The far side's docker CLI (docker system dial-stdio) talks to the second daemon.
SetEnv DOCKER_HOST=$d2
EOF
# The docker CLI runs ssh itself: a wrapper gives it the key and trusts the loopback host.
cat >"$state/ssh/config" <<EOF
Host 127.0.0.1
    IdentityFile $state/ssh/client_key
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    BatchMode yes
EOF
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$state/ssh/config" >"$state/bin/ssh"
chmod 755 "$state/bin/ssh"
if ! { [ -f "$run/sshd.pid" ] && kill -0 "$(cat "$run/sshd.pid")" 2>/dev/null; }; then
    mkdir -p /run/sshd
    /usr/sbin/sshd -f "$state/ssh/sshd_config"
fi
PATH="$state/bin:$PATH" docker --host ssh://xtask-remote@127.0.0.1:2222 version \
    --format 'over ssh: server {{.Server.Version}}' >&2 \
    || die "the second dockerd cannot be reached over ssh (see above)"

say "podman as root"
mkdir -p /etc/containers/containers.conf.d
nofile=$(ulimit -Hn)
cat >/etc/containers/containers.conf.d/xtask-test.conf <<EOF
# runc cannot give containers this host's limits (error setting rlimit): lower ones.
[containers]
default_ulimits = ["nproc=1024:1024", "nofile=$nofile:$nofile"]
EOF
load_into_podman() { # user-or-empty
    local want have
    want=$(docker image inspect --format '{{.Id}}' xtask-standin:x86_64 | sed 's/^sha256://')
    if [ -z "$1" ]; then
        have=$(podman image inspect --format '{{.Id}}' xtask-standin:x86_64 2>/dev/null || true)
        [ "$want" = "$have" ] || docker save xtask-standin:x86_64 | podman load -q
    else
        have=$(runuser -u "$1" -- sh -c 'cd && podman image inspect --format "{{.Id}}" xtask-standin:x86_64' 2>/dev/null || true)
        [ "$want" = "$have" ] || docker save xtask-standin:x86_64 | runuser -u "$1" -- sh -c 'cd && podman load -q'
    fi
}
load_into_podman ""
podman run --rm --network none xtask-standin:x86_64 true \
    || die "podman as root cannot start a container of the stand-in"

say "rootless podman for xtask-rootless"
id xtask-rootless >/dev/null 2>&1 || useradd --create-home --shell /bin/bash xtask-rootless
grep -q '^xtask-rootless:' /etc/subuid || usermod --add-subuids 200000-265535 xtask-rootless
grep -q '^xtask-rootless:' /etc/subgid || usermod --add-subgids 200000-265535 xtask-rootless
home=$(getent passwd xtask-rootless | cut -d: -f6)
mkdir -p "$home/.config/containers"
printf '[storage]\ndriver = "vfs"\n' >"$home/.config/containers/storage.conf"
chown -R xtask-rootless: "$home/.config"
load_into_podman xtask-rootless
runuser -u xtask-rootless -- sh -c 'cd && podman run --rm --network none xtask-standin:x86_64 true' \
    || die "rootless podman cannot start a container of the stand-in"
if [ "${1:-}" = --no-aarch64 ]; then
    echo "engines ready, but for the aarch64 stand-in on the second daemon" >&2
    exit 0
fi
aarch64_on_the_second_daemon
