/*
 * A bounded JSON reader for the check response, in place of cJSON.
 *
 * Why not cJSON: the ESP8266 Arduino core has no cJSON, ESP-IDF v6 no longer
 * bundles it, and a library installed from the Arduino Library Manager cannot
 * pull a second library's C sources into its own build. The check response
 * is one flat object, so a reader that validates the whole document once and
 * then looks members up in the text is all the core needs — and it allocates
 * nothing, never recurses (the nesting depth is a bit stack of fixed size)
 * and never reads past the given length.
 *
 * Strings stay escaped in the body; paku_ota_json_chars_* yields their bytes
 * one at a time (\uXXXX as UTF-8, surrogate pairs joined), so a caller can
 * copy or decode a string without a buffer of its own size.
 */
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"

/* Longest number text accepted (digits, sign, fraction, exponent). */
#define JSON_NUMBER_MAX 40

static bool json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *json_skip_ws(const char *p, const char *end)
{
    while (p < end && json_ws(*p)) {
        p++;
    }
    return p;
}

static int json_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* p at the opening quote; the position after the closing quote, or NULL. */
static const char *json_scan_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            return p + 1;
        }
        if (c < 0x20) {
            return NULL;
        }
        if (c != '\\') {
            continue;
        }
        if (++p >= end) {
            return NULL;
        }
        if (*p == 'u') {
            if (end - p < 5) {
                return NULL;
            }
            for (int i = 1; i <= 4; i++) {
                if (json_hex(p[i]) < 0) {
                    return NULL;
                }
            }
            p += 4;
        } else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
            return NULL;
        }
    }
    return NULL;
}

static const char *json_scan_digits(const char *p, const char *end)
{
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    return p > start ? p : NULL;
}

/* RFC 8259 number grammar; the position after it, or NULL. */
static const char *json_scan_number(const char *p, const char *end)
{
    const char *start = p;
    if (p < end && *p == '-') {
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if ((p = json_scan_digits(p, end)) == NULL) {
        return NULL;
    }
    if (p < end && *p == '.' && (p = json_scan_digits(p + 1, end)) == NULL) {
        return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if ((p = json_scan_digits(p, end)) == NULL) {
            return NULL;
        }
    }
    return p - start <= JSON_NUMBER_MAX ? p : NULL;
}

static const char *json_scan_literal(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* A scalar (string, number, true, false, null) at p; its end or NULL. */
static const char *json_scan_scalar(const char *p, const char *end, paku_ota_json_type_t *type)
{
    switch (*p) {
    case '"':
        *type = PAKU_OTA_JSON_STRING;
        return json_scan_string(p, end);
    case 't':
        *type = PAKU_OTA_JSON_TRUE;
        return json_scan_literal(p, end, "true");
    case 'f':
        *type = PAKU_OTA_JSON_FALSE;
        return json_scan_literal(p, end, "false");
    case 'n':
        *type = PAKU_OTA_JSON_NULL;
        return json_scan_literal(p, end, "null");
    default:
        *type = PAKU_OTA_JSON_NUMBER;
        return json_scan_number(p, end);
    }
}

/* The container stack: bit i set when level i is an array. */
typedef struct {
    uint32_t arrays;
    unsigned depth;
} json_nest_t;

/* After a value: close containers, or step over ',' to the next member
 * (*want_key for objects). Returns the position, NULL on a syntax error;
 * *done when the outermost value has ended. */
static const char *json_after_value(const char *p, const char *end, json_nest_t *nest,
                                    bool *want_key, bool *done)
{
    for (;;) {
        if (nest->depth == 0) {
            *done = true;
            return p;
        }
        p = json_skip_ws(p, end);
        if (p >= end) {
            return NULL;
        }
        bool in_array = (nest->arrays >> (nest->depth - 1)) & 1u;
        if (*p == ',') {
            *want_key = !in_array;
            return p + 1;
        }
        if (*p != (in_array ? ']' : '}')) {
            return NULL;
        }
        nest->depth--;
        p++;
    }
}

/* An object key and its colon; the position after the colon, or NULL. */
static const char *json_scan_key(const char *p, const char *end)
{
    p = json_skip_ws(p, end);
    if (p >= end || *p != '"' || (p = json_scan_string(p, end)) == NULL) {
        return NULL;
    }
    p = json_skip_ws(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

/* Opens a container at p (depth-checked); the position after an empty
 * container's close, or after the opening bracket with *opened set. */
static const char *json_open(const char *p, const char *end, json_nest_t *nest, bool *opened,
                             bool *want_key)
{
    bool array = *p == '[';
    if (nest->depth >= PAKU_OTA_JSON_MAX_DEPTH) {
        return NULL;
    }
    const char *q = json_skip_ws(p + 1, end);
    if (q < end && *q == (array ? ']' : '}')) {
        *opened = false;
        return q + 1;
    }
    nest->arrays = array ? (nest->arrays | (1u << nest->depth))
                         : (nest->arrays & ~(1u << nest->depth));
    nest->depth++;
    *opened = true;
    *want_key = !array;
    return p + 1;
}

paku_ota_err_t paku_ota_json_validate(const char *body, size_t len)
{
    const char *p = body;
    const char *end = body + len;
    json_nest_t nest = {0, 0};
    bool want_key = false;
    bool done = false;
    while (!done) {
        if (want_key && (p = json_scan_key(p, end)) == NULL) {
            return PAKU_OTA_ERR_JSON_SYNTAX;
        }
        want_key = false;
        p = json_skip_ws(p, end);
        if (p >= end) {
            return PAKU_OTA_ERR_JSON_SYNTAX;
        }
        if (*p == '{' || *p == '[') {
            bool opened = false;
            if ((p = json_open(p, end, &nest, &opened, &want_key)) == NULL) {
                return PAKU_OTA_ERR_JSON_SYNTAX;
            }
            if (opened) {
                continue;
            }
        } else {
            paku_ota_json_type_t type;
            if ((p = json_scan_scalar(p, end, &type)) == NULL) {
                return PAKU_OTA_ERR_JSON_SYNTAX;
            }
        }
        if ((p = json_after_value(p, end, &nest, &want_key, &done)) == NULL) {
            return PAKU_OTA_ERR_JSON_SYNTAX;
        }
    }
    return json_skip_ws(p, end) == end ? PAKU_OTA_OK : PAKU_OTA_ERR_JSON_SYNTAX;
}

/* End of a value known to be valid (validated document), containers included. */
static const char *json_skip_value(const char *p, const char *end, paku_ota_json_type_t *type)
{
    if (*p != '{' && *p != '[') {
        return json_scan_scalar(p, end, type);
    }
    *type = *p == '{' ? PAKU_OTA_JSON_OBJECT : PAKU_OTA_JSON_ARRAY;
    unsigned depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = json_scan_string(p, end);
            if (p == NULL) {
                return NULL;
            }
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return p + 1;
        }
        p++;
    }
    return NULL;
}

static bool json_key_is(const char *key, const char *key_end, const char *name)
{
    paku_ota_json_value_t k = {PAKU_OTA_JSON_STRING, key + 1, (size_t)(key_end - key - 2)};
    paku_ota_json_chars_t it;
    paku_ota_json_chars_init(&it, &k);
    for (const char *n = name;; n++) {
        int c = paku_ota_json_chars_next(&it);
        if (*n == '\0') {
            return c == PAKU_OTA_JSON_CHARS_END;
        }
        if (c != (unsigned char)*n) {
            return false;
        }
    }
}

bool paku_ota_json_member(const char *obj, size_t len, const char *name,
                          paku_ota_json_value_t *out)
{
    const char *end = obj + len;
    const char *p = json_skip_ws(obj, end);
    out->type = PAKU_OTA_JSON_ABSENT;
    out->p = NULL;
    out->len = 0;
    if (p >= end || *p != '{') {
        return false;
    }
    for (p++;;) {
        p = json_skip_ws(p, end);
        if (p >= end || *p != '"') {
            return false; /* '}' of an empty object, or not validated */
        }
        const char *key = p;
        const char *key_end = json_scan_string(p, end);
        const char *v = key_end != NULL ? json_scan_key(key, end) : NULL;
        v = v != NULL ? json_skip_ws(v, end) : NULL;
        paku_ota_json_type_t type;
        const char *v_end = v != NULL && v < end ? json_skip_value(v, end, &type) : NULL;
        if (v_end == NULL) {
            return false;
        }
        if (json_key_is(key, key_end, name)) {
            bool str = type == PAKU_OTA_JSON_STRING;
            out->type = type;
            out->p = str ? v + 1 : v;
            out->len = (size_t)(v_end - v) - (str ? 2u : 0u);
            return true; /* the first occurrence wins, as with cJSON */
        }
        p = json_skip_ws(v_end, end);
        if (p >= end || *p != ',') {
            return false;
        }
        p++;
    }
}

void paku_ota_json_chars_init(paku_ota_json_chars_t *it, const paku_ota_json_value_t *v)
{
    it->p = v->p;
    it->end = v->p + v->len;
    it->npend = 0;
    it->ipend = 0;
}

/* Four hex digits at p (already validated by the scan). */
static unsigned json_u16(const char *p)
{
    return (unsigned)(json_hex(p[0]) << 12 | json_hex(p[1]) << 8 | json_hex(p[2]) << 4 |
                      json_hex(p[3]));
}

/* A \uXXXX escape (p after the 'u'), joined with a following low surrogate;
 * its code point, or 0 when invalid (a lone surrogate, or U+0000, which
 * would cut a C string short). */
static uint32_t json_code_point(paku_ota_json_chars_t *it)
{
    if (it->end - it->p < 4) {
        return 0;
    }
    uint32_t cp = json_u16(it->p);
    it->p += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (it->end - it->p < 6 || it->p[0] != '\\' || it->p[1] != 'u') {
            return 0;
        }
        uint32_t lo = json_u16(it->p + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            return 0;
        }
        it->p += 6;
        cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
    }
    return cp;
}

/* Queue the UTF-8 bytes of cp after the first, which is returned. */
static int json_utf8(paku_ota_json_chars_t *it, uint32_t cp)
{
    if (cp < 0x80) {
        return (int)cp;
    }
    int first;
    int n;
    if (cp < 0x800) {
        first = (int)(0xC0 | (cp >> 6));
        n = 1;
    } else if (cp < 0x10000) {
        first = (int)(0xE0 | (cp >> 12));
        n = 2;
    } else {
        first = (int)(0xF0 | (cp >> 18));
        n = 3;
    }
    it->npend = (uint8_t)n;
    it->ipend = 0;
    for (int i = 0; i < n; i++) {
        it->pend[i] = (uint8_t)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
    }
    return first;
}

int paku_ota_json_chars_next(paku_ota_json_chars_t *it)
{
    if (it->ipend < it->npend) {
        return it->pend[it->ipend++];
    }
    if (it->p >= it->end) {
        return PAKU_OTA_JSON_CHARS_END;
    }
    char c = *it->p++;
    if (c != '\\') {
        return (unsigned char)c;
    }
    if (it->p >= it->end) {
        return PAKU_OTA_JSON_CHARS_BAD;
    }
    c = *it->p++;
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u': {
        uint32_t cp = json_code_point(it);
        return cp == 0 ? PAKU_OTA_JSON_CHARS_BAD : json_utf8(it, cp);
    }
    default:
        return (unsigned char)c; /* " \ / */
    }
}

paku_ota_err_t paku_ota_json_string(const paku_ota_json_value_t *v, char *out, size_t size)
{
    paku_ota_json_chars_t it;
    paku_ota_json_chars_init(&it, v);
    size_t n = 0;
    if (size == 0) {
        return PAKU_OTA_ERR_JSON_TOO_LONG;
    }
    out[0] = '\0';
    for (;;) {
        int c = paku_ota_json_chars_next(&it);
        if (c == PAKU_OTA_JSON_CHARS_END) {
            break;
        }
        if (c == PAKU_OTA_JSON_CHARS_BAD) {
            out[0] = '\0';
            return PAKU_OTA_ERR_JSON_SYNTAX;
        }
        if (n + 1 >= size) {
            out[0] = '\0';
            return PAKU_OTA_ERR_JSON_TOO_LONG;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return PAKU_OTA_OK;
}

bool paku_ota_json_number(const paku_ota_json_value_t *v, double *out)
{
    char text[JSON_NUMBER_MAX + 1];
    if (v->type != PAKU_OTA_JSON_NUMBER || v->len == 0 || v->len > JSON_NUMBER_MAX) {
        return false;
    }
    memcpy(text, v->p, v->len);
    text[v->len] = '\0';
    char *stop = NULL;
    *out = strtod(text, &stop);
    return stop == text + v->len;
}
