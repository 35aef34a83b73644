/*
 * PakuOtaEsp8266 — what the old sketch did (check, download, report), safely:
 * mutual TLS with the device certificate, the image's SHA-256 and signature
 * checked before it is installed, a dropped download resumed, "success"
 * confirmed only when the new image has checked in after its restart.
 *
 * Fill in your Wi-Fi, server, device id and the PEMs (the device certificate's
 * CN must equal DEVICE_ID). ESP8266 has no bootloader rollback: test a release
 * on a bench device before rolling it out (see the library README).
 */
#include <ESP8266WiFi.h>
#include <PakuOta.h>
#include <time.h>

#define FIRMWARE_VERSION "1.0.0" /* bump for every release you upload */
#define DEVICE_ID "esp8266_001"

static const char WIFI_SSID[] = "your-ssid";
static const char WIFI_PASS[] = "your-password";

/* The fleet CA, this device's certificate and key, and the firmware signing
 * key (public). EC P-256 keys keep the handshake and RAM small. */
static const char FLEET_CA_PEM[] = R"PEM(-----BEGIN CERTIFICATE-----
...your fleet CA...
-----END CERTIFICATE-----
)PEM";
static const char DEVICE_CERT_PEM[] = R"PEM(-----BEGIN CERTIFICATE-----
...this device's certificate (CN = DEVICE_ID)...
-----END CERTIFICATE-----
)PEM";
static const char DEVICE_KEY_PEM[] = R"PEM(-----BEGIN EC PRIVATE KEY-----
...this device's key...
-----END EC PRIVATE KEY-----
)PEM";
static const char SIGNING_KEY_PEM[] = R"PEM(-----BEGIN PUBLIC KEY-----
...the firmware signing public key...
-----END PUBLIC KEY-----
)PEM";

static PakuOtaConfig otaConfig()
{
    PakuOtaConfig c;
    c.serverUrl = "https://ota.example.com:8443";
    c.deviceId = DEVICE_ID;
    c.deviceModel = "esp8266";
    c.firmwareVersion = FIRMWARE_VERSION;
    c.caCertPem = FLEET_CA_PEM;
    c.clientCertPem = DEVICE_CERT_PEM;
    c.clientKeyPem = DEVICE_KEY_PEM;
    c.signingKeyPem = SIGNING_KEY_PEM;
    c.tlsFragment = 1024; /* needs MFLN on the server, else 16 KiB are used */
    return c;
}

PakuOta ota(otaConfig());

static void onProgress(const char *version, int percent)
{
    Serial.printf("OTA: %s %d%%\n", version, percent);
}

static void onResult(const paku_ota_result_t &r)
{
    Serial.printf("OTA: %s%s%s, next check in %u s\n", paku_ota_outcome_to_name(r.outcome),
                  r.reason[0] != '\0' ? ": " : "", r.reason, (unsigned)r.next_check_s);
}

void setup()
{
    Serial.begin(115200);
    Serial.printf("\nfirmware %s\n", FIRMWARE_VERSION);
    WiFi.mode(WIFI_STA);
    WiFi.begin(WIFI_SSID, WIFI_PASS);
    while (WiFi.status() != WL_CONNECTED) {
        delay(250);
    }
    /* BearSSL checks the certificates' validity dates: it needs the time. */
    configTime(0, 0, "pool.ntp.org", "time.nist.gov");
    while (time(nullptr) < 1700000000) {
        delay(250);
    }
    ota.onProgress(onProgress);
    ota.onResult(onResult);
    if (!ota.begin()) {
        Serial.printf("OTA: configuration refused: %s\n", paku_ota_err_to_name(ota.lastError()));
    }
}

void loop()
{
    ota.loop(); /* returns at once unless a check is due */
    /* ... the sketch's own work ... */
}
