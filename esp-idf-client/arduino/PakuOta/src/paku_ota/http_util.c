/* Parsers for the few HTTP header values the client acts on, and encoders
 * for what it sends. All bounded, none allocating. */
#include <string.h>

#include "paku_ota_internal.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* Decimal uint64 with overflow check; at least one digit. */
static bool parse_u64(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    if (!is_digit(*p)) {
        return false;
    }
    uint64_t v = 0;
    while (is_digit(*p)) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return false;
        }
        v = v * 10u + d;
        p++;
    }
    *pp = p;
    *out = v;
    return true;
}

bool paku_ota_parse_content_range(const char *v, uint64_t *start, uint64_t *end,
                                  uint64_t *total)
{
    if (v == NULL || start == NULL || end == NULL || total == NULL) {
        return false;
    }
    const char *p = skip_spaces(v);
    if (strncmp(p, "bytes", 5) != 0) {
        return false;
    }
    p += 5;
    if (*p != ' ' && *p != '\t') {
        return false;
    }
    p = skip_spaces(p);
    uint64_t s;
    uint64_t e;
    uint64_t t;
    if (!parse_u64(&p, &s) || *p++ != '-' || !parse_u64(&p, &e) || *p++ != '/' ||
        !parse_u64(&p, &t)) {
        return false;
    }
    p = skip_spaces(p);
    if (*p != '\0' || s > e || e >= t) {
        return false;
    }
    *start = s;
    *end = e;
    *total = t;
    return true;
}

bool paku_ota_parse_retry_after(const char *v, uint32_t *seconds)
{
    if (v == NULL || seconds == NULL) {
        return false;
    }
    const char *p = skip_spaces(v);
    uint64_t s;
    if (!parse_u64(&p, &s)) {
        return false;
    }
    p = skip_spaces(p);
    if (*p != '\0') {
        return false;
    }
    *seconds = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
    return true;
}

bool paku_ota_etag_value(const char *v, char *out, size_t out_size)
{
    if (v == NULL || out == NULL || out_size == 0) {
        return false;
    }
    out[0] = '\0';
    const char *p = skip_spaces(v);
    if (p[0] == 'W' && p[1] == '/') {
        p += 2;
    }
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
    }
    if (n == 0 || n >= out_size) {
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    paku_ota_str_lower(out);
    return true;
}

bool paku_ota_url_encode(const char *s, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL || out == NULL || out_size == 0) {
        return false;
    }
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        size_t need = keep ? 1 : 3;
        if (o + need >= out_size) {
            out[0] = '\0';
            return false;
        }
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0F];
        }
    }
    out[o] = '\0';
    return true;
}
