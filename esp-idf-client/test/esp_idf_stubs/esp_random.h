/* Stub of ESP-IDF v5 esp_random.h (compile check only). */
#pragma once
#include <stdint.h>
uint32_t esp_random(void);
