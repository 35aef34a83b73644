/*
 * Logging through one macro family: ESP_LOGx on ESP-IDF, stderr on the host.
 * PAKU_OTA_LOGE/W/I/D(tag, fmt, ...) — printf-style, no trailing newline.
 * Host verbosity: PAKU_OTA_LOG_LEVEL (0 none, 1 error, 2 warn, 3 info,
 * 4 debug; default 3), or at run time the PAKU_OTA_LOG environment variable
 * read by the host port.
 */
#ifndef PAKU_OTA_LOG_H
#define PAKU_OTA_LOG_H

#if defined(ESP_PLATFORM)

#include "esp_log.h"
#define PAKU_OTA_LOGE(tag, ...) ESP_LOGE(tag, __VA_ARGS__)
#define PAKU_OTA_LOGW(tag, ...) ESP_LOGW(tag, __VA_ARGS__)
#define PAKU_OTA_LOGI(tag, ...) ESP_LOGI(tag, __VA_ARGS__)
#define PAKU_OTA_LOGD(tag, ...) ESP_LOGD(tag, __VA_ARGS__)

#else

#include <stdio.h>

/** Run-time level of the host log (see above). */
extern int paku_ota_host_log_level;

#define PAKU_OTA_LOG_AT_(lvl, letter, tag, ...)                     \
    do {                                                            \
        if (paku_ota_host_log_level >= (lvl)) {                     \
            fprintf(stderr, letter " (%s) ", (tag));                \
            fprintf(stderr, __VA_ARGS__);                           \
            fputc('\n', stderr);                                    \
        }                                                           \
    } while (0)

#define PAKU_OTA_LOGE(tag, ...) PAKU_OTA_LOG_AT_(1, "E", tag, __VA_ARGS__)
#define PAKU_OTA_LOGW(tag, ...) PAKU_OTA_LOG_AT_(2, "W", tag, __VA_ARGS__)
#define PAKU_OTA_LOGI(tag, ...) PAKU_OTA_LOG_AT_(3, "I", tag, __VA_ARGS__)
#define PAKU_OTA_LOGD(tag, ...) PAKU_OTA_LOG_AT_(4, "D", tag, __VA_ARGS__)

#endif

#endif /* PAKU_OTA_LOG_H */
