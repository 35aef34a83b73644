/* Stub of ESP-IDF v5 esp_timer.h (compile check only). */
#pragma once
#include <stdint.h>
int64_t esp_timer_get_time(void);
