#!/usr/bin/env bash
# The release pipeline, in one place: what .github/workflows/release.yml runs on a tag and what
# CI runs on every change (host executor, a small selection of components).
#
#   1. build       u7s-build release (its --json summary is kept)
#   2. checksums   sha256sum -c SHA256SUMS; with --sign-key, SHA256SUMS.minisig made by minisign
#                  (Debian package minisign; key from `minisign -G`) and checked with --sign-pub,
#                  what `u7s-install --public-key` checks
#   3. archive     unpacks (bzip2 CRCs, tar); one top folder usernetes/; manifest.json and every output
#                  of every built component present; binaries executable
#   4. versions    every shipped binary's --version reports its component's pinned version
#                  (scripts/lib/versions.sh)
#   5. summary     one line per step; with --json, one JSON document on stdout
#
# Usage: scripts/release.sh [--out DIR] [--only NAME,...] [--executor auto|host|docker|podman]
#                           [--release-version V] [--u7s-build PATH] [--json]
#                           [--sign-key SECRET.key [--sign-pub PUBLIC.pub]] [-- MORE u7s-build FLAGS]
# Exit status 0 only when every step passed; the archive of a failed check is left in --out
# for inspection, and the step that failed is named.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/versions.sh
source "$here/lib/versions.sh"

out=dist
only=
executor=auto
release_version=
u7s_build=
json=false
sign_key=
sign_pub=
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --executor) executor=$2; shift 2 ;;
    --release-version) release_version=$2; shift 2 ;;
    --u7s-build) u7s_build=$2; shift 2 ;;
    --json) json=true; shift ;;
    --sign-key) sign_key=$2; shift 2 ;;
    --sign-pub) sign_pub=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "release.sh: $*" >&2; }
fail() { log "FAILED at $1: $2"; exit 1; }
tools=(jq sha256sum bzip2 tar bc)
[ -n "$sign_key" ] && tools+=(minisign)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || fail setup "$tool is not installed (Debian: apt-get install $tool)"
done
[ -z "$sign_key" ] || [ -f "$sign_key" ] || fail setup "--sign-key $sign_key: no such file (make a key pair with: minisign -G -p release.pub -s release.key)"
[ -z "$sign_pub" ] || [ -n "$sign_key" ] || fail setup "--sign-pub goes with --sign-key"
if [ -z "$u7s_build" ]; then
  u7s_build=$(cd "$here/.." && pwd)/target/release/u7s-build
  [ -x "$u7s_build" ] || u7s_build=$(cd "$here/.." && pwd)/target/debug/u7s-build
fi
[ -x "$u7s_build" ] || fail setup "no u7s-build at $u7s_build: cargo build --release -p u7s-builder, or pass --u7s-build"

mkdir -p "$out"
out=$(cd "$out" && pwd)
summary="$out/build-summary.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. build
args=(release --out "$out" --executor "$executor" --json)
[ -n "$only" ] && args+=(--only "$only")
[ -n "$release_version" ] && args+=(--release-version "$release_version")
t0=$(date +%s.%N)
"$u7s_build" "${args[@]}" "${extra[@]}" >"$work/summary.json" || fail build "u7s-build ${args[*]} exited with $?"
mv "$work/summary.json" "$summary"
t_build=$(echo "$(date +%s.%N) - $t0" | bc)
archive=$(jq -r '.archive.path' "$summary")
[ -f "$archive" ] || fail build "the summary names no archive ($summary)"
log "build: $(jq '.components | length' "$summary") components in ${t_build%.*}s -> $archive"

# 2. checksums
(cd "$(dirname "$archive")" && sha256sum -c --quiet SHA256SUMS) || fail checksums "SHA256SUMS does not match $archive"
log "checksums: SHA256SUMS verified"
signed=false
if [ -n "$sign_key" ]; then
  sums="$(dirname "$archive")/SHA256SUMS"
  rm -f "$sums.minisig"
  minisign -S -s "$sign_key" -m "$sums" -t "usernetes $(jq -r '.version // empty' "$summary") $(basename "$archive")" >&2 \
    || fail checksums "minisign could not sign $sums with $sign_key"
  if [ -n "$sign_pub" ]; then
    minisign -V -q -p "$sign_pub" -m "$sums" || fail checksums "$sums.minisig does not verify with $sign_pub"
  fi
  signed=true
  log "checksums: signed -> $sums.minisig${sign_pub:+ (verified with $sign_pub)}"
fi

# 3. archive
# One pass: tar runs bzip2 -d, which checks every block's CRC; -v lists what it unpacks.
mkdir "$work/x"
tar -xvjf "$archive" -C "$work/x" >"$work/list" || fail archive "$archive does not unpack (bad bzip2 or tar data)"
tops=$(cut -d/ -f1 "$work/list" | sort -u)
[ "$tops" = usernetes ] || fail archive "top folders are '$(echo "$tops" | tr '\n' ' ')', expected only usernetes/"
grep -qx 'usernetes/manifest.json' "$work/list" || fail archive "usernetes/manifest.json is missing"
# A component none of whose outputs is in the archive is a build dependency (a recipe another
# one lists in deps, not shipped, e.g. libslirp); any other must have all of them.
missing=0
while IFS=$'\t' read -r name outputs; do
  present=0 absent=()
  for path in $outputs; do
    if grep -qx "usernetes/$path" "$work/list"; then present=1; else absent+=("$path"); fi
  done
  if [ "$present" = 1 ] && [ ${#absent[@]} -gt 0 ]; then
    log "archive: $name: missing ${absent[*]}"; missing=1
  fi
done < <(jq -r '.components[] | [.name, ((.outputs // []) | join(" "))] | @tsv' "$summary")
[ "$missing" = 0 ] || fail archive "outputs listed in the summary are missing from the archive"
manifest="$work/x/usernetes/manifest.json"
jq -e '.components | length > 0' "$manifest" >/dev/null || fail archive "manifest.json lists no component"
nonexec=$(find "$work/x/usernetes/bin" -type f ! -perm -0100 2>/dev/null | sed "s|$work/x/||")
[ -z "$nonexec" ] || fail archive "not executable: $nonexec"
log "archive: $(wc -l <"$work/list") entries, $(stat -c %s "$archive") bytes, manifest lists $(jq '.components | length' "$manifest") components"

# 4. versions
checked=0
failures=()
while IFS=$'\t' read -r name version; do
  for bin in $(versions_binaries "$name"); do
    path="$work/x/usernetes/bin/$bin"
    [ -e "$path" ] || continue
    if got=$(version_check "$path" "$bin" "$version"); then
      checked=$((checked + 1))
    else
      failures+=("$name: bin/$bin: expected $version, got: $got")
    fi
  done
done < <(jq -r '.components[] | [.name, .version] | @tsv' "$manifest")
for f in "${failures[@]}"; do log "versions: $f"; done
[ ${#failures[@]} -eq 0 ] || fail versions "${#failures[@]} binaries do not report their pinned version"
log "versions: $checked binaries report their pinned version"

# 5. summary
if $json; then
  jq -n --slurpfile s "$summary" --argjson checked "$checked" --arg build_s "${t_build%.*}" --argjson signed "$signed" \
    --argjson entries "$(wc -l <"$work/list")" '{
      archive: $s[0].archive, checksums: $s[0].checksums, version: $s[0].version,
      build_seconds: ($build_s | tonumber), signed: $signed,
      steps: {build: "ok", checksums: "ok", archive: "ok", versions: "ok"},
      archive_entries: $entries, versions_checked: $checked,
      components: [$s[0].components[] | {name, version, source, cached}]
    }'
fi
log "release pipeline passed: $archive"
