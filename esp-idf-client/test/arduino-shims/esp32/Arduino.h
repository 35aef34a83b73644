/*
 * Stand-in for arduino-esp32's cores/esp32/Arduino.h (3.x), which CI does not
 * have (it comes from the internet with the core). Declares only what the
 * library's ESP32 glue and example use, with the signatures of arduino-esp32
 * 3.x: millis(), delay(), Serial.begin/printf, SET_LOOP_TASK_STACK_SIZE.
 * What this check proves is that the glue fits these and the library's own
 * headers, not that it fits the real core.
 */
#ifndef PAKU_OTA_SHIM_ESP32_ARDUINO_H
#define PAKU_OTA_SHIM_ESP32_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

unsigned long millis();
void delay(uint32_t ms);

class HardwareSerial {
public:
    void begin(unsigned long baud);
    size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
};
extern HardwareSerial Serial;

size_t getArduinoLoopTaskStackSize(void);
#define SET_LOOP_TASK_STACK_SIZE(sz) \
    size_t getArduinoLoopTaskStackSize() { return sz; }

#endif
