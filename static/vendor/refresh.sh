#!/usr/bin/env bash
# Re-download the vendored front-end files listed in VERSIONS from the npm registry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^#' "$here/VERSIONS" | while read -r name version source _arrow target; do
  [ -n "$name" ] || continue
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tarball=$(ls "$work"/*.tgz | head -n 1)
  tar xzf "$tarball" -C "$work"
  cp "$work/package/$source" "$here/$target"
  rm -rf "$work/package" "$tarball"
  echo "vendored $name@$version -> static/vendor/$target"
done
