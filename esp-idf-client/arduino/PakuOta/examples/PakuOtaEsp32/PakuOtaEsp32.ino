/*
 * PakuOtaEsp32 — what the old sketch did (check, download, report), safely:
 * mutual TLS with the device certificate, the image's SHA-256 and signature
 * checked before it is made bootable, a dropped download resumed, and the new
 * image confirmed only after it has checked in — if it cannot, the bootloader
 * goes back to the previous one.
 *
 * Fill in your Wi-Fi, server, device id and the PEMs (the device certificate's
 * CN must equal DEVICE_ID). The partition scheme needs two OTA slots (the
 * default one has them).
 */
#include <PakuOta.h>
#include <WiFi.h>

#define FIRMWARE_VERSION "1.0.0" /* bump for every release you upload */
#define DEVICE_ID "esp32_001"

/* loop() runs the TLS handshake and the download: give its task the stack
 * the ESP-IDF component asks for (10 KiB, see the README) plus the sketch's. */
SET_LOOP_TASK_STACK_SIZE(12 * 1024);

static const char WIFI_SSID[] = "your-ssid";
static const char WIFI_PASS[] = "your-password";

static const char FLEET_CA_PEM[] = R"PEM(-----BEGIN CERTIFICATE-----
...your fleet CA...
-----END CERTIFICATE-----
)PEM";
static const char DEVICE_CERT_PEM[] = R"PEM(-----BEGIN CERTIFICATE-----
...this device's certificate (CN = DEVICE_ID)...
-----END CERTIFICATE-----
)PEM";
static const char DEVICE_KEY_PEM[] = R"PEM(-----BEGIN PRIVATE KEY-----
...this device's key...
-----END PRIVATE KEY-----
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
    c.deviceModel = "esp32";
    c.firmwareVersion = FIRMWARE_VERSION;
    c.caCertPem = FLEET_CA_PEM;
    c.clientCertPem = DEVICE_CERT_PEM;
    c.clientKeyPem = DEVICE_KEY_PEM;
    c.signingKeyPem = SIGNING_KEY_PEM;
    return c;
}

PakuOta ota(otaConfig());

static void onStatus(paku_ota_status_t status, const char *version, int progress,
                     const char *reason)
{
    Serial.printf("OTA: %s %s %d%% %s\n", version, status == PAKU_OTA_STATUS_FAILED ? "failed" : "",
                  progress, reason != nullptr ? reason : "");
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
    ota.onStatus(onStatus);
    ota.onResult(onResult);
    if (!ota.begin()) {
        Serial.printf("OTA: configuration refused: %s\n", paku_ota_err_to_name(ota.lastError()));
    }
}

void loop()
{
    ota.loop(); /* the first call confirms a fresh update; then checks when due */
    /* ... the sketch's own work ... */
}
