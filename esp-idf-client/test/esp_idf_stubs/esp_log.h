/* Stub of ESP-IDF v5 esp_log.h (compile check only): the macros keep their
 * printf-style checking. */
#pragma once
#include <stdint.h>
void esp_log_write(int level, const char *tag, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
#define ESP_LOGE(tag, format, ...) esp_log_write(1, tag, format, ##__VA_ARGS__)
#define ESP_LOGW(tag, format, ...) esp_log_write(2, tag, format, ##__VA_ARGS__)
#define ESP_LOGI(tag, format, ...) esp_log_write(3, tag, format, ##__VA_ARGS__)
#define ESP_LOGD(tag, format, ...) esp_log_write(4, tag, format, ##__VA_ARGS__)
