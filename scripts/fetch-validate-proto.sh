#!/usr/bin/env bash
# Fetch buf/validate/validate.proto from the protovalidate source release on PyPI
# (no wheel ships it and buf.build is unreachable). Never committed: it lands in a git-ignored folder.
set -euo pipefail
version="$1"; dest="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pip download -q --disable-pip-version-check --no-deps --no-binary :all: --no-build-isolation \
  "protovalidate==${version}" -d "$tmp" 2>/dev/null || \
  pip download -q --disable-pip-version-check --no-deps --no-binary :all: "protovalidate==${version}" -d "$tmp"
tar -xzf "$tmp"/protovalidate-"${version}".tar.gz -C "$tmp" \
  "protovalidate-${version}/upstream/proto/buf/validate/validate.proto"
mkdir -p "$dest/buf/validate"
cp "$tmp/protovalidate-${version}/upstream/proto/buf/validate/validate.proto" "$dest/buf/validate/"
echo "fetched validate.proto from protovalidate ${version}"
