/* Stub of FreeRTOS task.h as ESP-IDF v5 ships it (compile check only). */
#pragma once
#include "FreeRTOS.h"
void vTaskDelay(const TickType_t xTicksToDelay);
