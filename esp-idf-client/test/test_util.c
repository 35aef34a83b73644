#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/base64.h"

const char *g_fixture_dir = NULL;

uint8_t *fixture_read(const char *name, size_t *len)
{
    char path[1024];
    assert_non_null(g_fixture_dir);
    snprintf(path, sizeof(path), "%s/%s", g_fixture_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("fixture missing: %s", path);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n >= 0);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL) {
        *len = (size_t)n;
    }
    return buf;
}

char *test_base64(const uint8_t *data, size_t len)
{
    size_t cap = ((len + 2) / 3) * 4 + 1;
    char *out = malloc(cap);
    size_t olen = 0;
    assert_non_null(out);
    assert_int_equal(mbedtls_base64_encode((unsigned char *)out, cap, &olen, data, len), 0);
    out[olen] = '\0';
    return out;
}
