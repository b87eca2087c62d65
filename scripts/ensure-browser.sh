#!/usr/bin/env bash
# The browser tests need Debian's Chromium and a Chinese font (screenshots otherwise show boxes).
# Playwright drives that Chromium; it never downloads a browser of its own (none can be fetched
# here). Installs what is missing with apt-get; fails, never skips, when it cannot.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qiE 'WenQuanYi|Noto Sans CJK' || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]} for the browser tests"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
command -v chromium >/dev/null || { echo "Chromium did not install; the browser tests need it" >&2; exit 1; }
