#!/usr/bin/env bash
# Standalone release assets: copies u7s-install and u7s-doctor out of the release archive's bin/
# into the folder that holds the archive, as u7s-install-x86_64 and u7s-doctor-x86_64, and adds
# their lines to SHA256SUMS. They are the archive's very files (built by recipes/u7s.toml), so a
# user can fetch the installer alone, check it against SHA256SUMS and run it on the archive (the
# bootstrap in README, as rustup-init and k3s do). Run after `u7s-build release`; idempotent.
#
#   scripts/release-assets.sh [DIST]      (DIST: the folder of usernetes-x86_64.tbz; default .)
set -euo pipefail

dist="${1:-.}"
archive=usernetes-x86_64.tbz
cd "$dist"
if [[ ! -f "$archive" || ! -f SHA256SUMS ]]; then
  echo "release-assets: no $archive and SHA256SUMS in $dist (run u7s-build release first)" >&2
  exit 1
fi
# The archive must be the one SHA256SUMS names before anything is taken out of it.
grep -E "  \\*?$archive\$" SHA256SUMS | sha256sum -c --quiet -

# Written beside the assets, then renamed: a reader never sees a partial file.
tmp="$(mktemp -d .release-assets.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
tar -xjf "$archive" -C "$tmp" usernetes/bin/u7s-install usernetes/bin/u7s-doctor
sums="$(grep -vE '  \*?(u7s-install|u7s-doctor)-x86_64$' SHA256SUMS || true)"
for bin in u7s-install u7s-doctor; do
  install -m 0755 "$tmp/usernetes/bin/$bin" "$tmp/$bin-x86_64"
  mv -f "$tmp/$bin-x86_64" "$bin-x86_64"
  sums+=$'\n'"$(sha256sum "$bin-x86_64")"
done
printf '%s\n' "$sums" > "$tmp/SHA256SUMS"
mv -f "$tmp/SHA256SUMS" SHA256SUMS
echo "release-assets: wrote u7s-install-x86_64 and u7s-doctor-x86_64 and their SHA256SUMS lines in $dist"
