/* Helpers shared by the unit tests. */
#ifndef PAKU_OTA_TEST_UTIL_H
#define PAKU_OTA_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/** Directory with the generated fixtures (argv[1] of the test binaries). */
extern const char *g_fixture_dir;

/** Reads FIXTURE_DIR/name; aborts the test when missing. *len may be NULL.
 *  The buffer is NUL-terminated and must be freed. */
uint8_t *fixture_read(const char *name, size_t *len);

/** Base64 of data (malloc'd, NUL-terminated). */
char *test_base64(const uint8_t *data, size_t len);

#endif
