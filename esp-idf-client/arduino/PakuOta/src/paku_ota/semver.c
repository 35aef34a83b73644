/*
 * SemVer 2.0.0 parsing and precedence, as the server's Domain does it:
 * one optional leading 'v'/'V', numbers as uint64 (overflow is invalid),
 * no whitespace, at most PAKU_OTA_VERSION_MAX_LEN characters, build metadata
 * validated but ignored in precedence. No heap: the parsed form points into
 * the caller's string.
 */
#include <string.h>

#include "paku_ota_internal.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Numeric identifier "0" | [1-9][0-9]* fitting uint64; advances *p. */
static bool parse_number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    if (s >= end || !is_digit(*s)) {
        return false;
    }
    if (*s == '0' && s + 1 < end && is_digit(s[1])) {
        return false; /* leading zero */
    }
    uint64_t v = 0;
    while (s < end && is_digit(*s)) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return false; /* overflow */
        }
        v = v * 10u + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

/* Dot-separated non-empty identifiers over [0-9A-Za-z-]. Pre-release numeric
 * identifiers must not have leading zeros and must fit uint64. */
static bool valid_identifiers(const char *s, size_t n, bool pre_release)
{
    if (n == 0) {
        return false;
    }
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && s[i] != '.') {
            if (!is_ident_char(s[i])) {
                return false;
            }
            i++;
        }
        size_t len = i - start;
        if (len == 0) {
            return false;
        }
        if (pre_release && all_digits(s + start, len)) {
            const char *p = s + start;
            uint64_t ignored;
            if (!parse_number(&p, s + i, &ignored) || p != s + i) {
                return false;
            }
        }
        i++; /* skip '.' (or step past the end) */
    }
    return true;
}

paku_ota_err_t paku_ota_semver_parse(const char *s, paku_ota_semver_t *out)
{
    if (s == NULL || out == NULL) {
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    size_t len = paku_ota_strnlen(s, PAKU_OTA_VERSION_MAX_LEN + 1);
    if (len == 0 || len > PAKU_OTA_VERSION_MAX_LEN) {
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    const char *p = s;
    const char *end = s + len;
    if (*p == 'v' || *p == 'V') {
        p++;
    }
    paku_ota_semver_t v = {0};
    if (!parse_number(&p, end, &v.major) || p >= end || *p++ != '.' ||
        !parse_number(&p, end, &v.minor) || p >= end || *p++ != '.' ||
        !parse_number(&p, end, &v.patch)) {
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    if (p < end && *p == '-') {
        p++;
        const char *pre = p;
        while (p < end && *p != '+') {
            p++;
        }
        if (!valid_identifiers(pre, (size_t)(p - pre), true)) {
            return PAKU_OTA_ERR_INVALID_VERSION;
        }
        v.pre = pre;
        v.pre_len = (size_t)(p - pre);
    }
    if (p < end && *p == '+') {
        p++;
        if (!valid_identifiers(p, (size_t)(end - p), false)) {
            return PAKU_OTA_ERR_INVALID_VERSION;
        }
        p = end;
    }
    if (p != end) {
        return PAKU_OTA_ERR_INVALID_VERSION; /* trailing garbage, whitespace */
    }
    *out = v;
    return PAKU_OTA_OK;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a < b) ? -1 : (a > b) ? 1 : 0;
}

/* Compare one pre-release identifier pair per SemVer item 11.4. */
static int cmp_identifier(const char *a, size_t an, const char *b, size_t bn)
{
    bool a_num = all_digits(a, an);
    bool b_num = all_digits(b, bn);
    if (a_num && b_num) {
        /* No leading zeros, so the longer number is the larger one. */
        if (an != bn) {
            return an < bn ? -1 : 1;
        }
        int c = memcmp(a, b, an);
        return (c > 0) - (c < 0);
    }
    if (a_num != b_num) {
        return a_num ? -1 : 1; /* numeric identifiers sort first */
    }
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    if (c != 0) {
        return (c > 0) - (c < 0);
    }
    return cmp_u64(an, bn);
}

int paku_ota_semver_cmp(const paku_ota_semver_t *a, const paku_ota_semver_t *b)
{
    int c = cmp_u64(a->major, b->major);
    if (c == 0) {
        c = cmp_u64(a->minor, b->minor);
    }
    if (c == 0) {
        c = cmp_u64(a->patch, b->patch);
    }
    if (c != 0) {
        return c;
    }
    if (a->pre == NULL || b->pre == NULL) {
        /* A release outranks any of its pre-releases. */
        return (a->pre == NULL) - (b->pre == NULL);
    }
    size_t i = 0;
    size_t j = 0;
    while (i < a->pre_len && j < b->pre_len) {
        size_t is = i;
        size_t js = j;
        while (i < a->pre_len && a->pre[i] != '.') {
            i++;
        }
        while (j < b->pre_len && b->pre[j] != '.') {
            j++;
        }
        c = cmp_identifier(a->pre + is, i - is, b->pre + js, j - js);
        if (c != 0) {
            return c;
        }
        i++;
        j++;
    }
    /* Equal so far: the one with more identifiers is higher. */
    bool a_more = i < a->pre_len;
    bool b_more = j < b->pre_len;
    return (int)a_more - (int)b_more;
}

bool paku_ota_version_is_valid(const char *version)
{
    paku_ota_semver_t v;
    return paku_ota_semver_parse(version, &v) == PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_version_compare(const char *a, const char *b, int *cmp)
{
    if (a == NULL || b == NULL || cmp == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    paku_ota_semver_t va;
    paku_ota_semver_t vb;
    if (paku_ota_semver_parse(a, &va) != PAKU_OTA_OK ||
        paku_ota_semver_parse(b, &vb) != PAKU_OTA_OK) {
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    *cmp = paku_ota_semver_cmp(&va, &vb);
    return PAKU_OTA_OK;
}
