#!/usr/bin/env bash
# Generates the keys, images and signatures the tests need, at test time,
# into the build directory. Nothing generated here is ever committed.
#   gen-fixtures.sh OUTDIR
set -euo pipefail
out="${1:?usage: gen-fixtures.sh OUTDIR}"
rm -rf "$out"
mkdir -p "$out"
cd "$out"

q() { "$@" >/dev/null 2>&1 || { echo "gen-fixtures: failed: $*" >&2; exit 1; }; }

# Firmware images: 1.0.x is what the simulated device runs, 1.1.0 the update.
q openssl rand -out fw.bin 307200
q openssl rand -out fw-1.1.0.bin 600000
openssl dgst -sha256 -r fw.bin | cut -c1-64 > fw.sha256
openssl dgst -sha256 -r fw-1.1.0.bin | cut -c1-64 > fw-1.1.0.sha256

# Signing keys, exactly as an operator makes them.
q openssl genrsa -out rsa.pem 2048
q openssl rsa -in rsa.pem -pubout -out rsa.pub.pem
q openssl genrsa -out other-rsa.pem 2048
q openssl rsa -in other-rsa.pem -pubout -out other-rsa.pub.pem
q openssl genrsa -out rsa1024.pem 1024
q openssl rsa -in rsa1024.pem -pubout -out rsa1024.pub.pem
q openssl ecparam -name prime256v1 -genkey -noout -out ec.pem
q openssl ec -in ec.pem -pubout -out ec.pub.pem
q openssl ecparam -name prime256v1 -genkey -noout -out other-ec.pem
q openssl ec -in other-ec.pem -pubout -out other-ec.pub.pem
q openssl ecparam -name secp384r1 -genkey -noout -out ec384.pem
q openssl ec -in ec384.pem -pubout -out ec384.pub.pem

# Signatures: RSA PKCS#1 v1.5 (raw 256 bytes) and ECDSA (DER), over SHA-256.
for img in fw fw-1.1.0; do
  q openssl dgst -sha256 -sign rsa.pem -out "$img.rsa.sig" "$img.bin"
  q openssl dgst -sha256 -sign ec.pem -out "$img.ec.sig" "$img.bin"
  q openssl dgst -sha256 -sign other-rsa.pem -out "$img.other-rsa.sig" "$img.bin"
done

# A fleet CA, a server certificate for localhost and a device certificate
# whose CN is the device id, for the simulator's mutual-TLS test.
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=Paku Test Fleet CA"
q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile server.ext
q openssl req -newkey rsa:2048 -nodes -keyout device.key -out device.csr -subj "/CN=sim-device-1"
q openssl x509 -req -in device.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out device.pem \
  -days 2
echo "gen-fixtures: wrote $(ls | wc -l) files to $out"
