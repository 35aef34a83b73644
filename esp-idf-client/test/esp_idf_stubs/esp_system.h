/* Stub of ESP-IDF v5 esp_system.h (compile check only). */
#pragma once
void esp_restart(void) __attribute__((noreturn));
