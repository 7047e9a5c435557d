#!/usr/bin/env bash
# Benchmark of the runtime, beside its anchor (Debian's dockerd-rootless.sh), as the test user:
#   ready:   from `u7s up --no-kube --detach` (resp. starting dockerd-rootless.sh) to a working
#            `docker info`;
#   stopped: from `u7s down` (resp. SIGTERM to its RootlessKit) until no process of the user is
#            left; orphans = processes of the user still running when the stop returned.
# Both use the host's Debian binaries (RootlessKit, slirp4netns, dockerd, containerd) and fresh
# HOME/XDG_RUNTIME_DIR folders. Goal: ready <= 1.1x the anchor, stopped <= 1.0 s, zero orphans.
#
#   sudo scripts/bench-runtime.sh [--runs N] [--u7s PATH]     (default: 5 runs, a release build)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
u7s_bin=""
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--u7s) u7s_bin=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-runtime: unknown argument $1" >&2; exit 2 ;;
	esac
done

user=${U7S_TEST_USER:-u7stest}
anchor=/usr/share/docker.io/contrib/dockerd-rootless.sh
[ -x "$anchor" ] || anchor=$(command -v dockerd-rootless.sh || true)
[ -n "$anchor" ] || { echo "bench-runtime: dockerd-rootless.sh not found (Debian's docker.io ships it)" >&2; exit 1; }
uid=$(id -u "$user")

if [ -z "$u7s_bin" ]; then
	cargo build --release --quiet -p u7s-runtime --bin u7s
	u7s_bin="${CARGO_TARGET_DIR:-target}/release/u7s"
fi

work=$(mktemp -d /tmp/u7s-bench-XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/usernetes/bin"
cp "$u7s_bin" "$work/usernetes/bin/u7s"
chmod -R a+rX "$work/usernetes"
u7s="$work/usernetes/bin/u7s"

# as_user DIR CMD...: CMD as the test user with HOME and XDG_RUNTIME_DIR below DIR.
as_user() {
	local dir=$1
	shift
	local env=(env -i "HOME=$dir/home" "XDG_RUNTIME_DIR=$dir/run" "USER=$user"
		"PATH=/usr/share/docker.io/contrib:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		"DOCKER_HOST=unix://$dir/run/docker.sock")
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$work" && runuser -u "$user" -- "${env[@]}" "$@")
	else
		(cd "$work" && "${env[@]}" "$@")
	fi
}

fresh() {
	local dir="$work/$1"
	as_user "$work" sh -c "rm -rf '$dir' 2>/dev/null; true"
	mkdir -p "$dir/home" "$dir/run"
	chmod 0700 "$dir/home" "$dir/run"
	[ "$(id -u)" -ne 0 ] || chown "$user:" "$dir/home" "$dir/run"
	echo "$dir"
}

now() { date +%s.%N; }
user_procs() { { ps -o stat=,pid= -u "$uid" 2>/dev/null || true; } | awk '$1 !~ /^Z/ {n++} END {print n+0}'; }
wait_no_procs() { while [ "$(user_procs)" -gt 0 ]; do sleep 0.005; done; }
ping_ok() { curl -s -m 1 --unix-socket "$1/run/docker.sock" http://d/_ping 2>/dev/null | grep -q OK; }

if [ "$(user_procs)" -gt 0 ]; then
	echo "bench-runtime: $user already runs processes; the benchmark needs the user idle:" >&2
	ps -u "$uid" -o pid,cmd >&2
	exit 1
fi

cleanup() {
	# Whatever a failed run left: sessions of the benchmark's folders, then the folders.
	for d in "$work"/u7s-*; do
		[ -d "$d" ] && as_user "$d" "$u7s" reset --yes >/dev/null 2>&1
	done
	rks=$(pgrep -u "$uid" -x rootlesskit || true)
	for p in $rks; do
		grep -qs "$work" "/proc/$p/environ" && kill -TERM "$p"
	done
	rm -rf "$work"
}
trap cleanup EXIT

results="$work/results"
: >"$results"
for i in $(seq 1 "$runs"); do
	# u7s
	d=$(fresh "u7s-$i")
	t0=$(now)
	as_user "$d" "$u7s" up --no-kube --detach >"$d/up.out"
	as_user "$d" docker info >/dev/null
	t1=$(now)
	as_user "$d" "$u7s" down >/dev/null
	orphans=$(user_procs)
	wait_no_procs
	t2=$(now)
	echo "u7s $(awk "BEGIN {print $t1 - $t0, $t2 - $t1}") $orphans" >>"$results"
	as_user "$d" "$u7s" reset --yes >/dev/null

	# dockerd-rootless.sh
	d=$(fresh "anchor-$i")
	t0=$(now)
	as_user "$d" setsid "$anchor" >"$d/anchor.log" 2>&1 &
	until ping_ok "$d"; do
		sleep 0.005
		if ! kill -0 $! 2>/dev/null; then
			echo "bench-runtime: dockerd-rootless.sh exited; its log:" >&2
			tail -20 "$d/anchor.log" >&2
			exit 1
		fi
	done
	as_user "$d" docker info >/dev/null
	t1=$(now)
	rk=$(pgrep -u "$uid" -x rootlesskit | head -1)
	kill -TERM "$rk"
	while kill -0 "$rk" 2>/dev/null; do sleep 0.005; done
	orphans=$(user_procs)
	wait_no_procs
	t2=$(now)
	wait || true
	echo "dockerd-rootless.sh $(awk "BEGIN {print $t1 - $t0, $t2 - $t1}") $orphans" >>"$results"
	as_user "$d" rootlesskit rm -rf "$d/home/.local/share/docker" >/dev/null 2>&1 || true
done

awk -v runs="$runs" '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = $1; n[k]++; r[k, n[k]] = $2; s[k, n[k]] = $3; o[k] += $4
}
END {
	printf "runtime benchmark, %d runs each (median, min-max; seconds)\n", runs
	printf "%-22s %-20s %-20s %s\n", "", "ready", "stopped", "orphans"
	split("u7s dockerd-rootless.sh", ks, " ")
	for (x = 1; x <= 2; x++) {
		k = ks[x]; m = n[k]
		for (i = 1; i <= m; i++) { ra[i] = r[k, i]; sa[i] = s[k, i] }
		rmed[k] = median(ra, m); smed[k] = median(sa, m)
		rmin = ra[1]; rmax = ra[m]; smin = sa[1]; smax = sa[m]
		printf "%-22s %.3f (%.3f-%.3f)  %.3f (%.3f-%.3f)  %d\n", (k == "u7s" ? "u7s up/down" : k), rmed[k], rmin, rmax, smed[k], smin, smax, o[k]
	}
	ratio = rmed["u7s"] / rmed["dockerd-rootless.sh"]
	printf "ready: %.2fx the anchor (goal <= 1.1x) %s\n", ratio, (ratio <= 1.1 ? "OK" : "MISSED")
	printf "stopped: %.3f s (goal <= 1.0 s) %s; orphans: %d %s\n", smed["u7s"], (smed["u7s"] <= 1.0 ? "OK" : "MISSED"), o["u7s"], (o["u7s"] == 0 ? "OK" : "MISSED")
}' "$results"
