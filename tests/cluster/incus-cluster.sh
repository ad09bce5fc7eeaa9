#!/bin/bash
# Test harness of incus-ai: a REAL multi-member Incus cluster on loopback for the live doctor
# tests and `make bench`. Adapted from the workplace script ../shared/incus/incus-cluster.sh
# (see ../shared/incus/NOTES.md); defaults changed so it never meets another cluster on this
# host: its own root and addresses 127.0.0.21-23. The tests call it; it tears down only what it started.
# incus-cluster.sh - run a REAL multi-member Incus cluster on ONE machine, for tests.
#
# Every member is a separate incusd with its own INCUS_DIR, listening on its own
# loopback address (127.0.0.11, 127.0.0.12, ... port 8443). No networks or bridges
# are created, instances get no NIC, nothing but 127.0.0.0/8 is ever used.
#
# Usage:
#   incus-cluster.sh up                 install packages if missing, create/repair the cluster (idempotent)
#   incus-cluster.sh packages           only install the packages if missing (scripts/setup.sh calls it)
#   incus-cluster.sh down               stop instances + our daemons (recorded PIDs only), unmount, wipe ICL_ROOT
#   incus-cluster.sh status             members, PIDs, cluster view; exit 0 only if every member is Online
#   incus-cluster.sh env                print shell exports (socket paths, URLs, client cert) for tests
#   incus-cluster.sh kill  <mN> [SIG]   send SIG (default KILL) to member N's incusd, by its recorded PID
#   incus-cluster.sh start <mN>         (re)start member N's incusd from its existing INCUS_DIR
#   incus-cluster.sh wait  <mN> <Status> [timeout_s]
#                                       poll /1.0/cluster/members/<mN> (from another live member) until
#                                       .status == Status (Online|Offline|Evacuated); prints elapsed seconds
#
# Settings (environment):
#   ICL_ROOT=/var/lib/incus-cluster     everything lives below it (mN/ = INCUS_DIR of member N)
#   ICL_MEMBERS=3                       number of members (m1..mN)
#   ICL_NET=127.0.0  ICL_HOST_OFFSET=10 member N listens on ${ICL_NET}.$((ICL_HOST_OFFSET+N)):${ICL_PORT}
#   ICL_PORT=8443
#   ICL_OFFLINE_THRESHOLD=11            cluster.offline_threshold (Incus minimum is 11; default would be 20)
#   ICL_SAMPLE=1                        create busybox image, pools, projects, profiles, group, instances
#   ICL_INSTALL=1                       apt-get install what is missing (Debian 12: from bookworm-backports)
#   ICL_DEBUG=0                         1 = start incusd with --debug (heartbeat details in mN/incus.log)
#   ICL_TLS_SAN=0                       1 = replace the cluster certificate by one whose SANs are the member
#                                       IPs (then 'curl --cacert $ICL_CLUSTER_CERT https://127.0.0.12:8443' verifies)
set -euo pipefail

ICL_ROOT=${ICL_ROOT:-/var/lib/incus-ai-test}
ICL_ROOT=${ICL_ROOT%/}
# The layout chosen at 'up' is saved in $ICL_ROOT/layout and reused by later commands
# (so 'down' after 'ICL_MEMBERS=5 ... up' still finds m4/m5); explicit env values win.
if [ -r "$ICL_ROOT/layout" ]; then
    while IFS='=' read -r k v; do
        case "$k" in ICL_MEMBERS|ICL_NET|ICL_HOST_OFFSET|ICL_PORT) [ -z "${!k:-}" ] && printf -v "$k" '%s' "$v";; esac
    done < "$ICL_ROOT/layout"
fi
ICL_MEMBERS=${ICL_MEMBERS:-3}
ICL_NET=${ICL_NET:-127.0.0}
ICL_HOST_OFFSET=${ICL_HOST_OFFSET:-20}
ICL_PORT=${ICL_PORT:-8443}
ICL_OFFLINE_THRESHOLD=${ICL_OFFLINE_THRESHOLD:-11}
ICL_SAMPLE=${ICL_SAMPLE:-1}
ICL_INSTALL=${ICL_INSTALL:-1}
ICL_DEBUG=${ICL_DEBUG:-0}
ICL_TLS_SAN=${ICL_TLS_SAN:-0}
INCUSD=/usr/libexec/incus/incusd

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

member_dir()  { echo "${ICL_ROOT}/m$1"; }
member_addr() { echo "${ICL_NET}.$((ICL_HOST_OFFSET + $1))"; }
pidfile()     { echo "${ICL_ROOT}/m$1.pid"; }

# Incus client bound to member N's unix socket, with a private client config dir.
# inc: for real work (bounded at 300s); incq: for queries (bounded at 20s; a request
# that Incus forwards to a dead member takes ~10s to fail, one without quorum ~10s too).
inc() {
    local n=$1; shift
    env INCUS_DIR="$(member_dir "$n")" INCUS_CONF="${ICL_ROOT}/client-conf" timeout 300 incus --force-local "$@"
}
incq() {
    local n=$1; shift
    env INCUS_DIR="$(member_dir "$n")" INCUS_CONF="${ICL_ROOT}/client-conf" timeout 20 incus --force-local "$@"
}

# Parse "m2" / "2" -> 2
member_num() {
    local n=${1#m}
    if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$ICL_MEMBERS" ]; then
        die "unknown member '$1' (m1..m${ICL_MEMBERS})"
    fi
    echo "$n"
}

check_settings() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    [[ "$ICL_NET" =~ ^127\.[0-9]+\.[0-9]+$ ]] || die "ICL_NET must be inside 127.0.0.0/8 (got '$ICL_NET')"
    [ $((ICL_HOST_OFFSET + ICL_MEMBERS)) -le 254 ] || die "ICL_HOST_OFFSET+ICL_MEMBERS too large"
    [ "$ICL_OFFLINE_THRESHOLD" -ge 11 ] || die "ICL_OFFLINE_THRESHOLD must be >= 11 (Incus: 'Value must be greater than 10')"
    case "$ICL_ROOT" in /|/var|/var/lib|/var/lib/incus|"") die "refusing ICL_ROOT='$ICL_ROOT'";; esac
}

# ---------------------------------------------------------------- packages
ensure_packages() {
    local need=()
    [ -x "$INCUSD" ] || need+=(incus-base)          # incus-base pulls incus-client
    command -v incus >/dev/null || need+=(incus-client)
    command -v curl >/dev/null || need+=(curl)
    command -v jq >/dev/null || need+=(jq)
    command -v openssl >/dev/null || need+=(openssl)
    command -v ip >/dev/null || need+=(iproute2)
    if [ "$ICL_SAMPLE" = 1 ] && { [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; }; then
        need+=(busybox-static)
    fi
    [ ${#need[@]} -eq 0 ] && return 0
    [ "$ICL_INSTALL" = 1 ] || die "missing packages: ${need[*]} (ICL_INSTALL=0)"

    local t0 codename pkgs=() p
    t0=$(now)
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ "$codename" = bookworm ]; then
        # Incus is not in Debian 12 main; the 6.0.x LTS is in bookworm-backports.
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            log "adding /etc/apt/sources.list.d/bpo.sources (bookworm-backports)"
            cat > /etc/apt/sources.list.d/bpo.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        fi
        # pkg/bookworm-backports (rather than -t bookworm-backports) takes only the incus
        # packages from backports (+ libcowsql0/libraft0 which exist only there); -t would
        # also pull e.g. systemd 254 from backports as the sysusers provider.
        for p in "${need[@]}"; do
            case "$p" in incus-*) pkgs+=("$p/bookworm-backports");; *) pkgs+=("$p");; esac
        done
    else
        pkgs=("${need[@]}")     # Debian 13+ / Ubuntu 24.04+: incus is in the main archive
    fi
    log "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    log "packages installed in $(since "$t0")s"
}

# ---------------------------------------------------------------- processes
# A member is "running" only if the recorded PID is alive (not a zombie), has the
# recorded start time (no PID reuse) and really is incusd.
is_running() {
    local f pid st state
    f=$(pidfile "$1")
    [ -s "$f" ] || return 1
    read -r pid st < "$f" || return 1
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] || return 1
    [ "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)" = "$st" ] || return 1
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$INCUSD" ] || return 1
}
member_pid() { awk '{print $1}' "$(pidfile "$1")" 2>/dev/null; }

wait_exit() { # n timeout
    local i
    for ((i = 0; i < $2 * 10; i++)); do is_running "$1" || return 0; sleep 0.1; done
    return 1
}

ensure_loopback() { # addr: 127.0.0.0/8 is normally all "local"; add a /32 on lo only if not
    local a=$1
    if ! ip route get "$a" 2>/dev/null | grep -q '^local '; then
        log "adding loopback alias $a/32 on lo"
        ip addr add "$a/32" dev lo
        echo "$a" >> "${ICL_ROOT}/aliases"
    fi
}

# Start member N's incusd (when it is not running) without waiting for it: a cluster member
# killed together with the others cannot become ready before a quorum of them runs again.
spawn_member() {
    local n=$1 dir addr pid st tmp debug=() i
    dir=$(member_dir "$n"); addr=$(member_addr "$n")
    if is_running "$n"; then return 0; fi
    mkdir -p "$dir"; chmod 0711 "$ICL_ROOT" "$dir"
    ensure_loopback "$addr"
    if ss -Hltn "src $addr:$ICL_PORT" 2>/dev/null | grep -q .; then
        die "$addr:$ICL_PORT is already in use by another process (not ours): $(ss -Hltnp "src $addr:$ICL_PORT")"
    fi
    [ "$ICL_DEBUG" = 1 ] && debug=(--debug)
    tmp="$(pidfile "$n").new"; rm -f "$tmp"
    # The sh writes its own PID then execs incusd, so the recorded PID is incusd's
    # regardless of whether setsid had to fork. ICL_OWNER marks every process that
    # descends from our daemons (used by 'down' to find leftovers by PID).
    INCUS_DIR="$dir" INCUS_SKIP_INSTANCE_TYPES=true ICL_OWNER="$ICL_ROOT" \
        setsid sh -c 'echo $$ > "$0"; exec "$@"' "$tmp" \
        "$INCUSD" --group root --logfile "$dir/incus.log" "${debug[@]}" \
        < /dev/null >> "$dir/incusd.stdio" 2>&1 &
    for ((i = 0; i < 50; i++)); do [ -s "$tmp" ] && break; sleep 0.1; done
    [ -s "$tmp" ] || die "m$n: incusd did not start"
    pid=$(cat "$tmp"); sleep 0.05
    st=$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) || die "m$n: incusd (pid $pid) exited at once; see $dir/incusd.stdio"
    echo "$pid $st" > "$(pidfile "$n")"; rm -f "$tmp"
}

# Wait until member N's daemon answers; 1 (with its log's tail) when it does not in time.
wait_ready() { # n timeout
    local n=$1 dir
    dir=$(member_dir "$n")
    if ! inc "$n" admin waitready --timeout="$2"; then
        tail -n 20 "$dir/incus.log" "$dir/incusd.stdio" >&2 || true
        return 1
    fi
    log "m$n: incusd pid $(member_pid "$n") ready (INCUS_DIR=$dir)"
}

start_member() {
    spawn_member "$1"
    wait_ready "$1" 180 || die "m$1 (pid $(member_pid "$1")) not ready"
}

# First live, clustered member (to send cluster-wide requests to)
any_member() {
    local n
    for ((n = 1; n <= ICL_MEMBERS; n++)); do
        if [ -e "$(member_dir "$n")/.icl-joined" ] && is_running "$n"; then echo "$n"; return 0; fi
    done
    return 1
}

# ---------------------------------------------------------------- cluster
bootstrap_m1() {
    local dir addr
    dir=$(member_dir 1); addr=$(member_addr 1)
    start_member 1
    cat > "$dir/preseed.yaml" <<EOF
config:
  core.https_address: ${addr}:${ICL_PORT}
  images.auto_update_interval: "0"
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  description: default profile (no NIC on purpose)
  devices:
    root:
      path: /
      pool: default
      type: disk
cluster:
  server_name: m1
  enabled: true
EOF
    inc 1 admin init --preseed < "$dir/preseed.yaml"
    # NOT in the preseed: on a not-yet-clustered 6.0.4 daemon, setting cluster.offline_threshold
    # panics the API handler (nil heartbeat task in doApi10UpdateTriggers) -> client sees "EOF".
    inc 1 config set cluster.offline_threshold "$ICL_OFFLINE_THRESHOLD"
    touch "$dir/.icl-joined"
    log "m1: cluster bootstrapped on ${addr}:${ICL_PORT}"
}

join_member() {
    local n=$1 via dir addr token pool
    dir=$(member_dir "$n"); addr=$(member_addr "$n")
    via=$(any_member) || die "no live cluster member to join through"
    # Leftovers of an earlier half-finished join of the same name
    if inc "$via" query "/1.0/cluster/members/m$n" >/dev/null 2>&1; then
        log "m$n: stale member record found, removing it"
        inc "$via" cluster remove "m$n" --force --yes >/dev/null
    fi
    inc "$via" cluster revoke-token "m$n" >/dev/null 2>&1 || true
    # a half-joined member from an earlier run: stop it and start from an empty dir
    stop_member "$n" 10
    umount_below "$dir"; rm -rf "$dir"
    start_member "$n"
    token=$(inc "$via" cluster add "m$n" --quiet)
    {
        echo "cluster:"
        echo "  enabled: true"
        echo "  server_name: m$n"
        echo "  server_address: ${addr}:${ICL_PORT}"
        echo "  cluster_token: ${token}"
        echo "  member_config:"
        # every existing (local, dir) pool needs its member-specific 'source'
        for pool in $(inc "$via" query /1.0/storage-pools?recursion=1 | jq -r '.[] | select(.driver=="dir") | .name'); do
            printf '  - entity: storage-pool\n    name: %s\n    key: source\n    value: ""\n' "$pool"
        done
    } > "$dir/preseed.yaml"
    inc "$n" admin init --preseed < "$dir/preseed.yaml"
    touch "$dir/.icl-joined"
    log "m$n: joined via m$via on ${addr}:${ICL_PORT}"
}

all_serving() {
    local n
    for ((n = 1; n <= ICL_MEMBERS; n++)); do incq "$n" query /1.0/instances >/dev/null 2>&1 || return 1; done
}

wait_all_online() { # timeout
    local t0 n via online
    t0=$(now)
    while :; do
        via=$(any_member) || return 1
        online=$(incq "$via" query '/1.0/cluster/members?recursion=1' 2>/dev/null \
            | jq '[.[] | select(.status=="Online")] | length' 2>/dev/null || echo 0)
        # Online in the database is not yet serving: a member respawned after a crash answers
        # "Server isn't ready yet" for a while after waitready
        [ "$online" = "$ICL_MEMBERS" ] && all_serving && return 0
        awk -v a="$t0" -v b="$(now)" -v t="$1" 'BEGIN{exit !(b-a > t)}' && return 1
        sleep 0.5
    done
}

# ---------------------------------------------------------------- sample content
build_image() { # busybox-static rootfs + metadata.yaml -> unified tarball, no internet needed
    local img=$ICL_ROOT/busybox-image p
    [ -s "$ICL_ROOT/busybox.tar.gz" ] && return 0
    rm -rf "$img"; mkdir -p "$img/rootfs"
    mkdir -p "$img"/rootfs/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,mnt,run,var/log}
    cp /bin/busybox "$img/rootfs/bin/busybox"
    for p in $(/bin/busybox --list-full); do
        [ "$p" = bin/busybox ] && continue
        mkdir -p "$img/rootfs/$(dirname "$p")"
        ln -sf /bin/busybox "$img/rootfs/$p"
    done
    cat > "$img/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  os: BusyBox
  release: "$(/bin/busybox | head -1 | awk '{print $2}')"
  architecture: $(uname -m)
  description: BusyBox $(uname -m) test image (offline, no NIC)
  name: busybox-$(uname -m)
EOF
    tar -C "$img" --numeric-owner --owner=0 --group=0 -czf "$ICL_ROOT/busybox.tar.gz" metadata.yaml rootfs
    rm -rf "$img"
}

q_exists() { incq "$1" query "$2" >/dev/null 2>&1; }

launch() { # via name target [extra args...] ; quiet unless it fails
    local via=$1 name=$2 target=$3; shift 3
    local proj="default" a
    for a in "$@"; do case "$a" in --project=*) proj=${a#--project=};; esac; done
    q_exists "$via" "/1.0/instances/$name?project=$proj" && return 0
    local err; err=$(mktemp)
    if ! inc "$via" launch busybox "$name" --target "$target" -q "$@" 2>"$err"; then
        cat "$err" >&2; rm -f "$err"; die "launch $name failed"
    fi
    rm -f "$err"
}

sample_content() {
    local via=1 n last=$ICL_MEMBERS t0
    t0=$(now)
    build_image
    q_exists $via /1.0/images/aliases/busybox || inc $via image import "$ICL_ROOT/busybox.tar.gz" --alias busybox >/dev/null
    # second pool, created the cluster way (pending on each member, then global)
    if ! q_exists $via /1.0/storage-pools/pool2; then
        for ((n = 1; n <= ICL_MEMBERS; n++)); do inc $via storage create pool2 dir --target "m$n" >/dev/null; done
        inc $via storage create pool2 dir --description "second dir pool" >/dev/null
    fi
    q_exists $via /1.0/storage-pools/pool2/volumes/custom/vol1 || inc $via storage volume create pool2 vol1 --target m1 >/dev/null
    q_exists $via /1.0/profiles/small || { inc $via profile create small >/dev/null; inc $via profile set small limits.memory=64MiB limits.cpu=1; }
    q_exists $via /1.0/projects/dev || inc $via project create dev -c features.images=false -c features.profiles=false >/dev/null
    if ! q_exists $via /1.0/projects/team-b; then
        inc $via project create team-b -c features.images=false -c features.profiles=true >/dev/null
        inc $via profile device add default root disk path=/ pool=default --project team-b >/dev/null
    fi
    q_exists $via /1.0/cluster/groups/fast || { inc $via cluster group create fast >/dev/null; inc $via cluster group assign "m$last" default,fast >/dev/null; }
    for ((n = 1; n <= ICL_MEMBERS; n++)); do launch $via "c$n" "m$n"; done
    launch $via small1 "m$last" --profile default --profile small
    launch $via dev1 m2 --project=dev
    launch $via b1 "m$last" --project=team-b --storage pool2
    if ! q_exists $via /1.0/instances/stopped1; then inc $via init busybox stopped1 --target m1 -q >/dev/null 2>&1; fi
    log "sample content ready in $(since "$t0")s (image 'busybox', pools default+pool2, projects dev+team-b, profile small, group fast, instances)"
}

ensure_client_cert() {
    local via=1 crt=$ICL_ROOT/client.crt key=$ICL_ROOT/client.key fp
    if [ ! -s "$crt" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -sha384 -nodes -days 3650 \
            -keyout "$key" -out "$crt" -subj "/CN=diag-test-client" \
            -addext "extendedKeyUsage=clientAuth" -addext "keyUsage=digitalSignature" 2>/dev/null
        chmod 600 "$key"
    fi
    fp=$(openssl x509 -in "$crt" -outform DER | sha256sum | cut -d' ' -f1)
    if ! inc $via query /1.0/certificates?recursion=1 | jq -e --arg fp "$fp" 'any(.[]; .fingerprint==$fp)' >/dev/null; then
        inc $via config trust add-certificate "$crt" --name diag-client >/dev/null
    fi
    if [ "$ICL_TLS_SAN" = 1 ]; then
        ensure_san_cluster_cert
    else
        cp "$(member_dir 1)/cluster.crt" "$ICL_ROOT/cluster.crt"
    fi
}

# Optional: replace the auto-generated cluster certificate (SAN: 127.0.0.1 + hostname) by
# one whose SANs list every member IP, so clients can verify TLS strictly with --cacert.
ensure_san_cluster_cert() {
    local n sans="DNS:incus-test-cluster" crt=$ICL_ROOT/cluster-san.crt key=$ICL_ROOT/cluster-san.key
    for ((n = 1; n <= ICL_MEMBERS; n++)); do sans="$sans,IP:$(member_addr "$n")"; done
    if [ ! -s "$crt" ] || ! openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$(member_addr "$ICL_MEMBERS")\b"; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -sha384 -nodes -days 3650 \
            -keyout "$key" -out "$crt" -subj "/O=Linux Containers/CN=incus-test-cluster" \
            -addext "subjectAltName=$sans" -addext "extendedKeyUsage=serverAuth,clientAuth" 2>/dev/null
        chmod 600 "$key"
    fi
    if ! cmp -s "$crt" "$(member_dir 1)/cluster.crt"; then
        inc 1 cluster update-certificate "$crt" "$key" >/dev/null
        log "cluster certificate replaced (SANs: $sans)"
    fi
    cp "$crt" "$ICL_ROOT/cluster.crt"
}

write_env() {
    local n
    {
        echo "# generated by incus-cluster.sh; source me"
        echo "export ICL_ROOT='$ICL_ROOT'"
        echo "export ICL_MEMBERS=$ICL_MEMBERS"
        echo "export ICL_CLIENT_CERT='$ICL_ROOT/client.crt'"
        echo "export ICL_CLIENT_KEY='$ICL_ROOT/client.key'"
        echo "export ICL_CLUSTER_CERT='$ICL_ROOT/cluster.crt'   # $( [ "$ICL_TLS_SAN" = 1 ] && echo 'SANs = member IPs' || echo 'auto-generated: SAN = 127.0.0.1 + hostname, NOT the member IPs')"
        echo "export ICL_CERT_HOSTNAME='$(openssl x509 -in "$ICL_ROOT/cluster.crt" -noout -ext subjectAltName 2>/dev/null | grep -o 'DNS:[^,]*' | head -1 | cut -d: -f2)'"
        for ((n = 1; n <= ICL_MEMBERS; n++)); do
            echo "export ICL_M${n}_DIR='$(member_dir "$n")'"
            echo "export ICL_M${n}_SOCKET='$(member_dir "$n")/unix.socket'"
            echo "export ICL_M${n}_URL='https://$(member_addr "$n"):${ICL_PORT}'"
        done
        echo "# examples:"
        echo "#   INCUS_DIR=\$ICL_M1_DIR incus cluster list"
        echo "#   curl -s --unix-socket \$ICL_M1_SOCKET 'http://incus/1.0/cluster/members?recursion=1'"
        echo "#   curl -s -k --cert \$ICL_CLIENT_CERT --key \$ICL_CLIENT_KEY \"\$ICL_M2_URL/1.0/cluster/members?recursion=1\""
        echo "#   verified TLS: curl --cacert \$ICL_CLUSTER_CERT --connect-to \$ICL_CERT_HOSTNAME:${ICL_PORT}:$(member_addr 2):${ICL_PORT} --cert \$ICL_CLIENT_CERT --key \$ICL_CLIENT_KEY https://\$ICL_CERT_HOSTNAME:${ICL_PORT}/1.0"
    } > "$ICL_ROOT/env"
}

# Stop whatever runs of ours, wipe the members and bootstrap m1 again.
fresh_start() {
    local n
    for ((n = 1; n <= ICL_MEMBERS; n++)); do
        if is_running "$n"; then kill -KILL "$(member_pid "$n")" 2>/dev/null || true; fi
    done
    for ((n = 1; n <= ICL_MEMBERS; n++)); do wait_exit "$n" 10 || true; done
    kill_leftovers
    for ((n = 1; n <= ICL_MEMBERS; n++)); do umount_below "$(member_dir "$n")"; rm -rf "$(member_dir "$n")" "$(pidfile "$n")"; done
    bootstrap_m1
}

# Respawn every joined member that is not running (all of them before waiting for any: a
# member alone has no quorum), then wait for each; 1 when one is not ready in time.
respawn_joined() {
    local n
    for ((n = 1; n <= ICL_MEMBERS; n++)); do
        [ -e "$(member_dir "$n")/.icl-joined" ] && spawn_member "$n"
    done
    for ((n = 1; n <= ICL_MEMBERS; n++)); do
        if [ -e "$(member_dir "$n")/.icl-joined" ]; then wait_ready "$n" 120 || return 1; fi
    done
    return 0
}

cmd_up() {
    local t0 n attempt online=0
    t0=$(now)
    check_settings
    ensure_packages
    mkdir -p "$ICL_ROOT"; chmod 0711 "$ICL_ROOT"
    printf 'ICL_MEMBERS=%s\nICL_NET=%s\nICL_HOST_OFFSET=%s\nICL_PORT=%s\n' \
        "$ICL_MEMBERS" "$ICL_NET" "$ICL_HOST_OFFSET" "$ICL_PORT" > "$ICL_ROOT/layout"
    [ -e "$(member_dir 1)/.icl-joined" ] || fresh_start   # no (complete) bootstrap
    for attempt in 1 2; do
        if [ "$attempt" = 2 ]; then
            # what an earlier run left (daemons killed mid-test, a session ended) did not come
            # back: a test cluster holds nothing worth keeping, so start from a clean slate once
            log "the cluster left in $ICL_ROOT did not come back; starting a new one"
            fresh_start
        fi
        respawn_joined || continue
        for ((n = 2; n <= ICL_MEMBERS; n++)); do
            [ -e "$(member_dir "$n")/.icl-joined" ] || join_member "$n"
        done
        if wait_all_online 90; then online=1; break; fi
    done
    [ "$online" = 1 ] || die "not all members Online after 90s, even in a new cluster"
    log "cluster of $ICL_MEMBERS members Online after $(since "$t0")s"
    ensure_client_cert
    [ "$ICL_SAMPLE" = 1 ] && sample_content
    write_env
    log "up done in $(since "$t0")s; env: source $ICL_ROOT/env"
}

# ---------------------------------------------------------------- teardown
stop_member() { # n timeout : graceful, then SIGKILL by recorded PID
    local n=$1 to=${2:-30} pid
    is_running "$n" || return 0
    pid=$(member_pid "$n")
    timeout "$to" env INCUS_DIR="$(member_dir "$n")" INCUS_CONF="${ICL_ROOT}/client-conf" \
        incus --force-local admin shutdown >/dev/null 2>&1 || true
    if ! wait_exit "$n" "$to"; then
        log "m$n: graceful shutdown timed out, SIGKILL pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
        wait_exit "$n" 10 || log "m$n: pid $pid still alive?"
    fi
}

# Leftovers of OUR daemons, found by PID:
#  - "[lxc monitor] $ICL_ROOT/mN/containers <name>" (LXC rewrites argv AND environ of the
#    monitor, so it is matched by its command line, which names our INCUS_DIR);
#  - any other process still carrying ICL_OWNER=$ICL_ROOT in its environment
#    (incusd forkfile/forkproxy/... helpers inherit the daemon's environment).
monitor_pids() {
    local p c
    for p in /proc/[0-9]*; do
        c=$( { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null ) || continue
        case "$c" in "[lxc monitor] ${ICL_ROOT}/"*) echo "${p#/proc/}";; esac
    done
}
owned_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = 1 ] && continue
        if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qxF "ICL_OWNER=$ICL_ROOT"; then echo "${p#/proc/}"; fi
    done
}
kill_leftovers() {
    local mons inits others p i
    mons=$(monitor_pids)
    if [ -n "$mons" ]; then
        # SIGKILL of a container's init (child of its monitor) ends its whole PID namespace;
        # the monitor then cleans its cgroups and exits by itself.
        inits=$(for p in $mons; do cat "/proc/$p/task/"*/children 2>/dev/null; done)
        log "leftover containers: monitors [${mons//$'\n'/ }] inits [${inits//$'\n'/ }] -> SIGKILL inits"
        for p in $inits; do kill -KILL "$p" 2>/dev/null || true; done
        for ((i = 0; i < 50; i++)); do [ -z "$(monitor_pids)" ] && break; sleep 0.1; done
        for p in $(monitor_pids); do kill -KILL "$p" 2>/dev/null || true; done
    fi
    others=$(owned_pids)
    if [ -n "$others" ]; then
        log "leftover helper processes of our daemons: ${others//$'\n'/ } -> SIGKILL"
        for p in $others; do kill -KILL "$p" 2>/dev/null || true; done
    fi
}

umount_below() {
    local d=$1 m
    for m in $(awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
}

cmd_down() {
    local t0 n via p projects all_up=1
    t0=$(now)
    check_settings
    if [ ! -d "$ICL_ROOT" ]; then log "nothing to tear down ($ICL_ROOT absent)"; return 0; fi
    for ((n = 1; n <= ICL_MEMBERS; n++)); do is_running "$n" || all_up=0; done
    if [ "$all_up" = 1 ] && via=$(any_member) \
        && projects=$(incq "$via" query /1.0/projects 2>/dev/null | jq -r '.[]' | sed 's|.*/||') && [ -n "$projects" ]; then
        # healthy: stop instances through the API, then shut the daemons down (last member first)
        for p in $projects; do
            env INCUS_DIR="$(member_dir "$via")" INCUS_CONF="${ICL_ROOT}/client-conf" \
                timeout 60 incus --force-local stop --all --force --project "$p" >/dev/null 2>&1 || true
        done
        log "instances stopped after $(since "$t0")s"
        for ((n = ICL_MEMBERS; n >= 1; n--)); do stop_member "$n" 30; done
    else
        # degraded (member killed / no quorum): graceful calls would each block ~10s+ on the
        # database, so SIGKILL our daemons by their recorded PIDs and reap what they left.
        log "cluster degraded: SIGKILL our daemons"
        for ((n = 1; n <= ICL_MEMBERS; n++)); do
            if is_running "$n"; then kill -KILL "$(member_pid "$n")" 2>/dev/null || true; fi
        done
        for ((n = 1; n <= ICL_MEMBERS; n++)); do wait_exit "$n" 10 || true; done
    fi
    log "daemons stopped after $(since "$t0")s"
    kill_leftovers
    # mounts (shmounts/guestapi tmpfs survive a SIGKILL), aliases, files
    umount_below "$ICL_ROOT"
    if [ -s "$ICL_ROOT/aliases" ]; then
        while read -r a; do ip addr del "$a/32" dev lo 2>/dev/null || true; done < "$ICL_ROOT/aliases"
    fi
    rm -rf "$ICL_ROOT"
    log "down done in $(since "$t0")s"
}

# ---------------------------------------------------------------- status & test helpers
cmd_status() {
    local n via rc=0 st
    if [ ! -d "$ICL_ROOT" ]; then echo "cluster DOWN ($ICL_ROOT absent)"; return 3; fi
    printf '%-4s %-22s %-8s %-8s %s\n' MEMBER ADDRESS PID DAEMON INCUS_DIR
    for ((n = 1; n <= ICL_MEMBERS; n++)); do
        if is_running "$n"; then st=running; else st=DOWN; rc=1; fi
        printf '%-4s %-22s %-8s %-8s %s\n' "m$n" "$(member_addr "$n"):$ICL_PORT" "$(member_pid "$n" || true)" "$st" "$(member_dir "$n")"
    done
    if via=$(any_member); then
        echo "--- cluster as seen by m$via:"
        incq "$via" cluster list -f csv -c nrsm 2>&1 | sed 's/^/  /' || rc=1
        [ "$(incq "$via" query '/1.0/cluster/members?recursion=1' 2>/dev/null | jq '[.[]|select(.status=="Online")]|length')" = "$ICL_MEMBERS" ] || rc=1
    else
        echo "--- no live member"; rc=1
    fi
    return $rc
}

cmd_kill() {
    local n sig=${2:-KILL} pid
    n=$(member_num "${1:-}")
    is_running "$n" || die "m$n is not running"
    pid=$(member_pid "$n")
    kill -s "$sig" "$pid"
    log "m$n: sent SIG$sig to incusd pid $pid"
}

cmd_start() {
    local n
    n=$(member_num "${1:-}")
    [ -e "$(member_dir "$n")/.icl-joined" ] || die "m$n was never joined; run 'up'"
    start_member "$n"
}

cmd_wait() {
    local n want=${2:-} to=${3:-120} t0 via m st
    n=$(member_num "${1:-}")
    [ -n "$want" ] || die "usage: wait mN Online|Offline|Evacuated [timeout]"
    t0=$(now)
    while :; do
        st=""
        for ((m = 1; m <= ICL_MEMBERS; m++)); do
            [ "$m" = "$n" ] && [ "$want" = Offline ] && continue
            is_running "$m" || continue
            st=$(incq "$m" query "/1.0/cluster/members/m$n" 2>/dev/null | jq -r '.status + "|" + .message') && [ -n "$st" ] && break
        done
        if [ "${st%%|*}" = "$want" ]; then echo "m$n $want after $(since "$t0")s: ${st#*|}"; return 0; fi
        awk -v a="$t0" -v b="$(now)" -v t="$to" 'BEGIN{exit !(b-a > t)}' && { echo "timeout; last: $st"; return 1; }
        sleep 0.25
    done
}

case "${1:-}" in
    up) cmd_up ;;
    packages) ensure_packages ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cat "$ICL_ROOT/env" ;;
    kill) shift; cmd_kill "$@" ;;
    start) shift; cmd_start "$@" ;;
    wait) shift; cmd_wait "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
