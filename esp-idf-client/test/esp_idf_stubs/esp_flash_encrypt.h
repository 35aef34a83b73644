/* Stub of ESP-IDF v5 esp_flash_encrypt.h (compile check only). */
#pragma once
#include <stdbool.h>
bool esp_flash_encryption_enabled(void);
