/* Stub of ESP-IDF v5 esp_idf_version.h (compile check only). */
#pragma once
#ifndef PAKU_STUB_IDF_MINOR
#define PAKU_STUB_IDF_MINOR 0
#endif
#define ESP_IDF_VERSION_MAJOR 5
#define ESP_IDF_VERSION_MINOR PAKU_STUB_IDF_MINOR
#define ESP_IDF_VERSION_PATCH 0
#define ESP_IDF_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_IDF_VERSION \
    ESP_IDF_VERSION_VAL(ESP_IDF_VERSION_MAJOR, ESP_IDF_VERSION_MINOR, ESP_IDF_VERSION_PATCH)
