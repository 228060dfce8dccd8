#!/usr/bin/env bash
# What the tests need from the system package registry, installed only when absent (Debian/Ubuntu, apt-get):
# chromium (the HTML report's browser tests), cmake and g++ (llama-cpp-python's build, `ladder compile`'s runtime).
set -euo pipefail
need=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
  || need+=(chromium)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "tools/system-deps.sh: install ${need[*]} with your system's package manager, then run the tests" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "tools/system-deps.sh: installing ${need[*]} (apt-get)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
