/* Bounded string helpers shared by the core (plain C99, no locale). */
#include <string.h>

#include "paku_ota_internal.h"

size_t paku_ota_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    if (s == NULL) {
        return 0;
    }
    while (n < max && s[n] != '\0') {
        n++;
    }
    return n;
}

bool paku_ota_strcpy_checked(char *dst, size_t dst_size, const char *src)
{
    if (dst == NULL || dst_size == 0) {
        return false;
    }
    dst[0] = '\0';
    if (src == NULL) {
        return false;
    }
    size_t n = paku_ota_strnlen(src, dst_size);
    if (n >= dst_size) {
        return false;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool paku_ota_str_ieq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return false;
    }
    while (*a != '\0' && *b != '\0') {
        if (lower_ascii(*a) != lower_ascii(*b)) {
            return false;
        }
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool paku_ota_is_sha256_hex(const char *s)
{
    if (s == NULL) {
        return false;
    }
    for (size_t i = 0; i < PAKU_OTA_SHA256_HEX_LEN; i++) {
        if (!is_hex(s[i])) {
            return false; /* also stops at a short string's NUL */
        }
    }
    return s[PAKU_OTA_SHA256_HEX_LEN] == '\0';
}

void paku_ota_str_lower(char *s)
{
    if (s == NULL) {
        return;
    }
    for (; *s != '\0'; s++) {
        *s = lower_ascii(*s);
    }
}

void paku_ota_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0F];
    }
    out[2 * len] = '\0';
}

const char *paku_ota_u64_str(uint64_t v, char *out)
{
    char tmp[PAKU_OTA_U64_STR_SIZE];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    return out;
}
