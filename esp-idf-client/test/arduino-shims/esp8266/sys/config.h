/*
 * Shim: the ESP8266 core's newlib has <sys/config.h> pull in the Xtensa
 * core's core-isa.h; picolibc's does not. cores/esp8266/mmu_iram.h reads three
 * address-map values from it; they are the ESP8266's (the same values the
 * core's own host build, CORE_MOCK, defines in mmu_iram.h).
 */
#include_next <sys/config.h>
#ifndef XCHAL_INSTRAM0_VADDR
#define XCHAL_INSTRAM0_VADDR 0x40000000
#define XCHAL_INSTRAM1_VADDR 0x40100000
#define XCHAL_INSTROM0_VADDR 0x40200000
#endif
