/*
 * Shim: <sys/pgmspace.h> of the ESP8266 core's newlib fork (its
 * tools/sdk/libc is not in the header subset; Debian's cross compiler brings
 * picolibc instead). Declares what newlib-xtensa's header declares for the
 * code the check compiles: PROGMEM placement, PSTR, the pgm_read_* readers
 * and the *_P string functions. Declarations only: nothing is linked.
 */
#ifndef PAKU_OTA_SHIM_SYS_PGMSPACE_H
#define PAKU_OTA_SHIM_SYS_PGMSPACE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROGMEM __attribute__((section(".irom.text")))
#define PGM_P const char *
#define PGM_VOID_P const void *
#define PSTR(s) (__extension__({ static const char __pstr__[] PROGMEM = (s); &__pstr__[0]; }))

#define pgm_read_byte(addr) (*(const uint8_t *)(addr))
#define pgm_read_word(addr) (*(const uint16_t *)(addr))
#define pgm_read_dword(addr) (*(const uint32_t *)(addr))
#define pgm_read_float(addr) (*(const float *)(addr))
#define pgm_read_ptr(addr) (*(const void *const *)(addr))
#define pgm_read_byte_near(addr) pgm_read_byte(addr)
#define pgm_read_word_near(addr) pgm_read_word(addr)
#define pgm_read_dword_near(addr) pgm_read_dword(addr)

void *memcpy_P(void *dest, const void *src, size_t n);
void *memccpy_P(void *dest, const void *src, int c, size_t n);
void *memmem_P(const void *h, size_t hl, const void *n, size_t nl);
int memcmp_P(const void *a, const void *b, size_t n);
size_t strlen_P(const char *s);
size_t strnlen_P(const char *s, size_t n);
char *strcpy_P(char *d, const char *s);
char *strncpy_P(char *d, const char *s, size_t n);
char *strcat_P(char *d, const char *s);
char *strncat_P(char *d, const char *s, size_t n);
int strcmp_P(const char *a, const char *b);
int strncmp_P(const char *a, const char *b, size_t n);
int strcasecmp_P(const char *a, const char *b);
int strncasecmp_P(const char *a, const char *b, size_t n);
char *strstr_P(const char *h, const char *n);
char *strchr_P(const char *s, int c);
char *strrchr_P(const char *s, int c);
int printf_P(const char *fmt, ...);
int sprintf_P(char *s, const char *fmt, ...);
int snprintf_P(char *s, size_t n, const char *fmt, ...);
int vsnprintf_P(char *s, size_t n, const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif

#endif
