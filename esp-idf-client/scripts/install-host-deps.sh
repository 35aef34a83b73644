#!/usr/bin/env bash
# Installs the Debian packages the host build of esp-idf-client needs
# (core library, host port, cmocka tests, simulator) and those of the
# compile and stack checks against the real ESP-IDF headers (cross compilers
# for ESP32-C3 and, approximately, ESP32; their C libraries). Installs only
# what is missing, and refreshes the package lists only when it has to install.
set -euo pipefail

PACKAGES=(
  libmbedtls-dev
  libcjson-dev
  libcurl4-openssl-dev
  libcmocka-dev
  openssl
  pkg-config
  python3
  # test/idf_compile_check.py, test/stack_budget.py
  gcc-riscv64-unknown-elf         # ESP32-C3: rv32imc_zicsr_zifencei, ilp32
  picolibc-riscv64-unknown-elf
  gcc-xtensa-lx106                # ESP32 approximated: -mabi=windowed -mlongcalls
  picolibc-xtensa-lx106-elf
  libnewlib-dev                   # newlib headers for ESP-IDF v5.0
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
