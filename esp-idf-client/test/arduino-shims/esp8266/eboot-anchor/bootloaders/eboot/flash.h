/*
 * Shim: cores/esp8266/flash_utils.h includes <../../bootloaders/eboot/flash.h>
 * (the eboot bootloader's source, not in the header subset). Only the flash
 * geometry constants are reached from the headers the library uses; their
 * values are the ESP8266's (4 KiB sectors, 64 KiB blocks).
 */
#ifndef PAKU_OTA_SHIM_EBOOT_FLASH_H
#define PAKU_OTA_SHIM_EBOOT_FLASH_H
#define FLASH_SECTOR_SIZE 0x1000
#define FLASH_BLOCK_SIZE 0x10000
#define APP_START_OFFSET 0x1000
#endif
