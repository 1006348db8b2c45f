#!/bin/bash
# LXD's own figures 13-15 of cluster-bench (issue 17), measured on this machine: the anchor
# Corral's instance figures are read against. This script is how README's LXD figures for
# 13-15 were taken.
#
# It forms a three-member LXD cluster on loopback (node1-3 on 127.0.0.11-13:8443 in a
# network namespace of its own, one daemon per LXD_DIR under a temporary directory, a `dir`
# pool named default, a default profile with a root disk and no network device), imports
# the busybox test image that assets/images/build-busybox-image.sh builds (alias busybox),
# and measures, as
# tests/src/bin/cluster_bench/instances.rs does for Corral, through the REST API on node1's
# unix socket:
#   13  LAUNCHES launches one after another: POST /1.0/instances from the image, then start,
#       until GET .../state reads Running (median and p90, nearest rank);
#   15  evacuation of node2 holding EVACUATED stopped instances (POST
#       /1.0/cluster/members/node2/state {"action":"evacuate"} until its operation succeeds),
#       then its restore (the same with "restore");
#   14  GET /1.0/instances?recursion=1 and `lxc list` with COUNT instances (the EVACUATED ones
#       count), all created, none started; 3 timings each (median).
# Everything is torn down on exit, whatever happens: daemons stopped (`lxd shutdown`, then
# SIGKILL for what is left of them), mounts under the temporary directory undone, the
# directory removed.
#
# Usage (root; needs Debian's lxd and busybox-static packages, curl and jq):
#   assets/bench/lxd-anchor.sh
#   LAUNCHES=3 COUNT=50 EVACUATED=5 assets/bench/lxd-anchor.sh      # a quick try
# CREATORS (default 8) is how many instances are created at once for 14 and 15. Before 15 and
# 14 it waits up to SETTLE_MAX seconds (300) for the 1-minute load to fall to SETTLE_LOAD
# (1.5); each figure is printed with the load averages before and after it.
set -eu -o pipefail

LAUNCHES=${LAUNCHES:-20}
COUNT=${COUNT:-1000}
EVACUATED=${EVACUATED:-20}
CREATORS=${CREATORS:-8}
WAIT=${WAIT:-900} # seconds one operation may take
# Before figures 15 and 14 (which follow bursts of creation), wait up to SETTLE_MAX seconds
# for the 1-minute load to fall to SETTLE_LOAD (the burst's own load, and LXD's work after it).
SETTLE_LOAD=${SETTLE_LOAD:-1.5}
SETTLE_MAX=${SETTLE_MAX:-300}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() {
    echo "lxd-anchor: $*" >&2
    exit 1
}
say() { echo "lxd-anchor: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- What is needed ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (LXD runs containers as root)"
command -v lxd >/dev/null 2>&1 && command -v lxc >/dev/null 2>&1 ||
    die "LXD is not installed: 'apt-get install lxd' (Debian 12 has LXD 5.0.2; snapd is not needed)"
case "$(LC_ALL=C ldd /bin/busybox 2>&1 || true)" in
*"not a dynamic executable"* | *"statically linked"*) ;;
*) die "busybox-static is not installed (no static /bin/busybox): 'apt-get install busybox-static'" ;;
esac
for tool in curl jq ip nsenter; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed: 'apt-get install $tool'"
done
[ "$EVACUATED" -le "$COUNT" ] || die "EVACUATED ($EVACUATED) must not exceed COUNT ($COUNT)"

tmp=$(mktemp -d /tmp/lxd-anchor.XXXXXX)
# The daemons run in a network namespace of their own, with loopback alone: their cluster
# traffic stays on 127.0.0.11-13 there, and LXD's own lookups at start (it asks
# images.linuxcontainers.org for instance types) cannot leave the machine. nsenter enters
# the network namespace only: LXD needs the host's mounts and cgroups as they are.
ns="lxd-anchor-$$"
ip netns add "$ns" || die "cannot make the network namespace $ns (needs root and iproute2)"
ip -n "$ns" link set lo up || die "cannot bring up loopback in $ns"
# Unprivileged containers' root must be able to walk down to their rootfs.
chmod 0711 "$tmp"
mkdir -p "$tmp/logs"
declare -A daemon_pid=()
# liblxc leaves an empty lxc.pivot cgroup behind: removed at the end unless it was here before.
pivots=$(ls -d /sys/fs/cgroup/*/lxc.pivot /sys/fs/cgroup/lxc.pivot 2>/dev/null || true)

# --- Teardown, always -------------------------------------------------------------------
cleanup() {
    local rc=$? n pid pids m started
    set +e
    started=$(now)
    trap - EXIT INT TERM HUP
    say "tearing down $tmp"
    # Init processes of instances still running (only figure 13 starts any), to be sure.
    local inits=()
    if [ -s "$tmp/running" ] && [ -S "$tmp/n1/unix.socket" ]; then
        while read -r name; do
            pid=$(curl -s --max-time 10 --unix-socket "$tmp/n1/unix.socket" \
                "http://lxd/1.0/instances/$name/state" | jq -r '.metadata.pid // empty' 2>/dev/null)
            [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null && inits+=("$pid")
            curl -s --max-time 20 --unix-socket "$tmp/n1/unix.socket" -X PUT \
                -d '{"action":"stop","force":true}' "http://lxd/1.0/instances/$name/state" >/dev/null
        done <"$tmp/running"
        sleep 2
    fi
    # Members shut down at once (a member left without quorum may hang in its shutdown: it
    # gets 30 s, then SIGKILL).
    for n in "${!daemon_pid[@]}"; do
        if kill -0 "${daemon_pid[$n]}" 2>/dev/null; then
            LXD_DIR="$tmp/n$n" timeout 30 lxd shutdown --timeout 25 >/dev/null 2>&1 &
        fi
    done
    wait
    for n in "${!daemon_pid[@]}"; do
        kill -9 "${daemon_pid[$n]}" 2>/dev/null
    done
    for pid in "${inits[@]}"; do
        grep -q lxc.payload "/proc/$pid/cgroup" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done
    # What else this run started names its directory (lxc monitors, forkstart helpers...).
    pids=$(grep -lsF "$tmp/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true)
    for pid in $pids; do
        [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] &&
            grep -qsF "$tmp/" "/proc/$pid/cmdline" && kill -9 "$pid" 2>/dev/null
    done
    sleep 0.5
    # Mounts under the directory, deepest first.
    for _ in 1 2 3; do
        m=$(awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
        [ -z "$m" ] && break
        while read -r mnt; do
            umount -l "$mnt" 2>/dev/null || umount -fl "$mnt" 2>/dev/null
        done <<<"$m"
    done
    for m in /sys/fs/cgroup/*/lxc.pivot /sys/fs/cgroup/lxc.pivot; do
        [ -d "$m" ] && ! grep -qxF "$m" <<<"$pivots" && rmdir "$m" 2>/dev/null
    done
    if [ -n "${KEEP_LOGS:-}" ]; then
        mkdir -p "$KEEP_LOGS" && cp -r "$tmp/logs/." "$KEEP_LOGS/" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf --one-file-system "$tmp" || say "could not remove all of $tmp"
    say "torn down in $(since "$started") s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- Helpers ----------------------------------------------------------------------------

# api MEMBER METHOD PATH [BODY]: the JSON answer of LXD's REST API on MEMBER's unix socket.
api() {
    local sock="$tmp/n$1/unix.socket" method=$2 path=$3
    if [ $# -ge 4 ]; then
        curl -sS --max-time "$WAIT" --unix-socket "$sock" -X "$method" \
            -H 'Content-Type: application/json' -d "$4" "http://lxd$path"
    else
        curl -sS --max-time "$WAIT" --unix-socket "$sock" -X "$method" "http://lxd$path"
    fi
}

# run MEMBER METHOD PATH [BODY]: the call, then (if it started one) its operation to the end.
run() {
    local answer op done
    answer=$(api "$@") || { echo "$2 $3: no answer" >&2; return 1; }
    case "$(jq -r .type <<<"$answer")" in
    sync) return 0 ;;
    async) ;;
    *) echo "$2 $3: $(jq -c '{error_code, error}' <<<"$answer")" >&2; return 1 ;;
    esac
    op=$(jq -r .operation <<<"$answer")
    op=${op%%\?*} # its path, without the ?project= LXD adds
    # Waited for through the same member, as one client would (it finds a forwarded
    # request's operation on the member running it).
    while :; do
        done=$(api "$1" GET "$op/wait?timeout=$WAIT") || { echo "$2 $3: waiting on $op failed" >&2; return 1; }
        [ "$(jq -r .metadata.status <<<"$done")" = Running ] || break
    done
    if [ "$(jq -r .metadata.status <<<"$done")" != Success ]; then
        echo "$2 $3: $(jq -c '{status: .metadata.status, err: .metadata.err, error}' <<<"$done")" >&2
        return 1
    fi
}

# create NAME [TARGET]: a stopped instance from the busybox image (as Corral's bench does).
create() {
    local path=/1.0/instances
    [ -n "${2:-}" ] && path="$path?target=$2"
    run 1 POST "$path" "{\"name\":\"$1\",\"type\":\"container\",\"source\":{\"type\":\"image\",\"alias\":\"busybox\"},\"config\":{\"boot.host_shutdown_timeout\":\"2\"}}"
}
export -f api run create
export tmp WAIT

# create_all TARGET NAME...: CREATORS at once.
create_all() {
    local target=$1
    shift
    printf '%s\n' "$@" | xargs -r -P "$CREATORS" -I{} bash -c 'create "$1" "$2"' _ {} "$target"
}

settle() {
    local t
    t=$(now)
    while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$SETTLE_LOAD" 'BEGIN { exit !(l > m) }' &&
        awk -v a="$(since "$t")" -v m="$SETTLE_MAX" 'BEGIN { exit !(a < m) }'; do
        sleep 10
    done
    say "settled $(since "$t") s: load $(load)"
}

# stats VALUE...: "median M s, min A s, max B s" (median of an even count: the mean of the two
# middle values, as cluster-bench does).
stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "median %.3f s, min %.3f s, max %.3f s", m, v[1], v[NR] }'
}
# p90 VALUE...: nearest rank, as cluster-bench's percentile.
p90() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        r = int(0.9 * NR); if (r < 0.9 * NR) r++; if (r < 1) r = 1; printf "%.3f", v[r] }'
}

# --- The cluster ------------------------------------------------------------------------
start_daemon() {
    local n=$1
    mkdir -p "$tmp/n$n"
    chmod 0711 "$tmp/n$n"
    LXD_DIR="$tmp/n$n" nsenter --net="/run/netns/$ns" \
        lxd --group root --logfile "$tmp/logs/n$n.log" >>"$tmp/logs/n$n.out" 2>&1 &
    daemon_pid[$n]=$!
    LXD_DIR="$tmp/n$n" lxd waitready --timeout 60 ||
        die "node$n's daemon did not become ready: $(tail -n 5 "$tmp/logs/n$n.log" "$tmp/logs/n$n.out" 2>/dev/null)"
}

say "LXD $(lxd --version), $(nproc) cores, load $(load); directory $tmp"
for n in 1 2 3; do start_daemon "$n"; done

LXD_DIR="$tmp/n1" lxd init --preseed >/dev/null <<'EOF' || die "bootstrapping node1 failed"
config:
  core.https_address: 127.0.0.11:8443
cluster:
  server_name: node1
  enabled: true
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF

for n in 2 3; do
    token=$(LXD_DIR="$tmp/n1" lxc cluster add "node$n" | tail -n 1)
    case "$token" in eyJ*) ;; *) die "no join token for node$n: $token" ;; esac
    # In the namespace too: lxd init itself reaches node1 to check the token's certificate.
    LXD_DIR="$tmp/n$n" nsenter --net="/run/netns/$ns" lxd init --preseed >/dev/null <<EOF || die "node$n could not join"
cluster:
  enabled: true
  server_name: node$n
  server_address: 127.0.0.1$n:8443
  cluster_token: $token
  member_config:
  - entity: storage-pool
    name: default
    key: source
    value: ""
EOF
done
members=$(api 1 GET '/1.0/cluster/members?recursion=1' |
    jq -r '[.metadata[] | "\(.server_name)=\(.status)@\(.url)"] | join(" ")')
say "cluster: $members"
[ "$(grep -o '=Online' <<<"$members" | wc -l)" = 3 ] || die "not three members online: $members"

"$repo/assets/images/build-busybox-image.sh" "$tmp/busybox.tar.gz"
LXD_DIR="$tmp/n1" lxc image import "$tmp/busybox.tar.gz" --alias busybox >/dev/null ||
    die "importing the busybox image failed"

# --- 13. Launch -------------------------------------------------------------------------
launch=()
load13=$(load)
for ((i = 0; i < LAUNCHES; i++)); do
    t=$(now)
    create "l$i" || die "launch $i: creating l$i failed"
    echo "l$i" >>"$tmp/running"
    run 1 PUT "/1.0/instances/l$i/state" '{"action":"start","timeout":-1}' ||
        die "launch $i: starting l$i failed (see $tmp/logs and lxc info --show-log)"
    status=$(api 1 GET "/1.0/instances/l$i/state" | jq -r .metadata.status)
    [ "$status" = Running ] || die "l$i started but reads $status"
    launch+=("$(since "$t")")
    where=$(api 1 GET "/1.0/instances/l$i" | jq -r .metadata.location)
    say "launch $((i + 1))/$LAUNCHES: ${launch[-1]} s (on $where)"
done
load13="$load13 before, $(load) after"
for ((i = 0; i < LAUNCHES; i++)); do
    run 1 PUT "/1.0/instances/l$i/state" '{"action":"stop","force":true}' || die "stopping l$i failed"
    run 1 DELETE "/1.0/instances/l$i" || die "deleting l$i failed"
done
rm -f "$tmp/running"

# --- 15. Evacuation and restore of node2 holding EVACUATED stopped instances -------------
held=()
for ((i = 0; i < EVACUATED; i++)); do held+=("e$i"); done
t=$(now)
create_all node2 "${held[@]}" || die "creating the instances on node2 failed"
say "created $EVACUATED stopped instances on node2 in $(since "$t") s"
declare -A took=() took_load=()
for action in evacuate restore; do
    settle
    before=$(load)
    t=$(now)
    run 1 POST /1.0/cluster/members/node2/state "{\"action\":\"$action\"}" ||
        die "the $action of node2 failed"
    took[$action]=$(since "$t")
    took_load[$action]="$before before, $(load) after"
    say "$action: ${took[$action]} s"
done
back=$(api 1 GET '/1.0/instances?recursion=1' | jq '[.metadata[] | select(.location == "node2")] | length')
[ "$back" = "$EVACUATED" ] || die "after the restore node2 holds $back instances, not $EVACUATED"

# --- 14. The list at COUNT instances ----------------------------------------------------
rest=()
for ((i = EVACUATED; i < COUNT; i++)); do rest+=("i$i"); done
t=$(now)
if [ ${#rest[@]} -gt 0 ]; then
    create_all "" "${rest[@]}" || die "creating the instances for the list failed"
fi
say "created ${#rest[@]} more stopped instances in $(since "$t") s"
settle
load14=$(load)
get=() list=()
for _ in 1 2 3; do
    t=$(now)
    api 1 GET '/1.0/instances?recursion=1' >"$tmp/list.json" || die "GET /1.0/instances failed"
    get+=("$(since "$t")")
    listed=$(jq '.metadata | length' "$tmp/list.json")
    [ "$listed" = "$COUNT" ] || die "the list holds $listed instances, not $COUNT"
    t=$(now)
    LXD_DIR="$tmp/n1" lxc list >/dev/null || die "lxc list failed"
    list+=("$(since "$t")")
    say "list: GET ${get[-1]} s, lxc list ${list[-1]} s"
done
load14="$load14 before, $(load) after"

# --- The figures ------------------------------------------------------------------------
version=$(api 1 GET /1.0 | jq -r .metadata.environment.server_version)
cat <<EOF

LXD $version, three members on 127.0.0.11-13, $(nproc) cores, $(date -u +%FT%TZ)
13 launch busybox -> Running ($LAUNCHES): $(stats "${launch[@]}"), p90 $(p90 "${launch[@]}") s  [load $load13]
   samples: ${launch[*]}
14 GET /1.0/instances?recursion=1 ($COUNT): $(stats "${get[@]}")  [load $load14]
   samples: ${get[*]}
14 lxc list ($COUNT instances): $(stats "${list[@]}")  [load $load14]
   samples: ${list[*]}
15 evacuate member, $EVACUATED stopped: ${took[evacuate]} s  [load ${took_load[evacuate]}]
15 restore member, $EVACUATED stopped: ${took[restore]} s  [load ${took_load[restore]}]
EOF
