#!/usr/bin/env bash
# Installs the Debian packages the host build of esp-idf-client needs
# (core library, host port, cmocka tests, simulator). Installs only what is
# missing, and refreshes the package lists only when it has to install.
set -euo pipefail

PACKAGES=(
  libmbedtls-dev
  libcjson-dev
  libcurl4-openssl-dev
  libcmocka-dev
  openssl
  pkg-config
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-host-deps: all host packages present"
  exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  SUDO="sudo"
fi

echo "install-host-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
