/*
 * Which crypto backend implements paku_ota_sha256_* / paku_ota_sigkey_*
 * (paku_ota_internal.h): PSA Crypto on Mbed TLS (image_verify.c: ESP-IDF,
 * arduino-esp32, the host) or BearSSL (image_verify_bearssl.c: the ESP8266
 * Arduino core, which has BearSSL and no Mbed TLS). Both files are always in
 * the build (the Arduino IDE compiles every source of a library); the one not
 * chosen compiles to nothing.
 */
#ifndef PAKU_OTA_CRYPTO_H
#define PAKU_OTA_CRYPTO_H

#if !defined(PAKU_OTA_CRYPTO_BEARSSL)
#if defined(ARDUINO_ARCH_ESP8266)
#define PAKU_OTA_CRYPTO_BEARSSL 1
#else
#define PAKU_OTA_CRYPTO_BEARSSL 0
#endif
#endif

#endif /* PAKU_OTA_CRYPTO_H */
