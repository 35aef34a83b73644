/*
 * Stand-in for arduino-esp32's libraries/WiFi/src/WiFi.h (3.x): the three
 * calls the example makes (WiFi.mode, WiFi.begin, WiFi.status) with 3.x's
 * parameter and return types. See Arduino.h here for what that proves.
 */
#ifndef PAKU_OTA_SHIM_ESP32_WIFI_H
#define PAKU_OTA_SHIM_ESP32_WIFI_H

#include <stdint.h>

#include "Arduino.h"

typedef enum { WIFI_MODE_NULL = 0, WIFI_MODE_STA, WIFI_MODE_AP, WIFI_MODE_APSTA } wifi_mode_t;
#define WIFI_STA WIFI_MODE_STA
typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 } wl_status_t;

class WiFiClass {
public:
    bool mode(wifi_mode_t m);
    wl_status_t begin(const char *ssid, const char *passphrase = nullptr, int32_t channel = 0,
                      const uint8_t *bssid = nullptr, bool connect = true);
    static wl_status_t status();
};
extern WiFiClass WiFi;

#endif
