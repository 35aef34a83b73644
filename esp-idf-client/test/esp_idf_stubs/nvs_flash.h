/* Stub of ESP-IDF v5 nvs_flash.h (compile check only). */
#pragma once
#include "nvs.h"
#define ESP_ERR_NVS_NO_FREE_PAGES (ESP_ERR_NVS_BASE + 0x0d)
#define ESP_ERR_NVS_NEW_VERSION_FOUND (ESP_ERR_NVS_BASE + 0x10)
esp_err_t nvs_flash_init(void);
esp_err_t nvs_flash_erase(void);
