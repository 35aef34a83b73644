/* Check-response parsing, including hostile and malformed JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "test_util.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/* base64 of 4 bytes 0x01 0x02 0x03 0x04 */
#define SIG "AQIDBA=="

static const char *VALID =
    "{\"update_available\":true,\"current_version\":\"1.0.0\",\"latest_version\":\"1.1.0\","
    "\"download_url\":\"/api/firmware/download/1.1.0?device_model=esp32\","
    "\"checksum_sha256\":\"" SHA "\",\"size_bytes\":1572864,"
    "\"signature\":\"" SIG "\",\"signature_algorithm\":\"rsa-pkcs1v15-sha256\","
    "\"release_notes\":\"Fixes\",\"rollout\":\"v1.1.0-canary\",\"is_rollback\":false,"
    "\"next_check_seconds\":3600}";

static paku_ota_err_t parse(const char *body, paku_ota_check_response_t *out,
                            const char **detail)
{
    return paku_ota_parse_check_response(body, strlen(body), out, detail);
}

/* VALID with one field's JSON text replaced ("KEY":VALUE), or removed when
 * value is NULL. */
static char *with_field(const char *key, const char *value)
{
    static char buf[8192];
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *at = strstr(VALID, pat);
    assert_non_null(at);
    const char *v = at + strlen(pat);
    const char *end = v;
    int depth = 0;
    bool in_str = false;
    for (; *end != '\0'; end++) {
        if (in_str) {
            if (*end == '\\') {
                end++;
            } else if (*end == '"') {
                in_str = false;
            }
        } else if (*end == '"') {
            in_str = true;
        } else if (*end == '{' || *end == '[') {
            depth++;
        } else if ((*end == ',' || *end == '}') && depth == 0) {
            break;
        } else if (*end == '}' || *end == ']') {
            depth--;
        }
    }
    if (value == NULL) {
        /* drop "key":value and its comma */
        const char *from = at;
        const char *to = *end == ',' ? end + 1 : end;
        if (*end != ',' && from > VALID && from[-1] == ',') {
            from--;
        }
        snprintf(buf, sizeof(buf), "%.*s%s", (int)(from - VALID), VALID, to);
    } else {
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(v - VALID), VALID, value, end);
    }
    return buf;
}

static void full_offer_is_parsed_into_every_field(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    assert_int_equal(parse(VALID, &r, NULL), PAKU_OTA_OK);
    assert_true(r.update_available);
    assert_string_equal(r.latest_version, "1.1.0");
    assert_string_equal(r.download_url, "/api/firmware/download/1.1.0?device_model=esp32");
    assert_string_equal(r.checksum_sha256, SHA);
    assert_int_equal(r.size_bytes, 1572864);
    assert_int_equal(r.signature_len, 4);
    assert_memory_equal(r.signature, "\x01\x02\x03\x04", 4);
    assert_int_equal(r.signature_algorithm, PAKU_OTA_SIG_RSA_PKCS1V15_SHA256);
    assert_string_equal(r.rollout, "v1.1.0-canary");
    assert_false(r.is_rollback);
    assert_true(r.has_next_check);
    assert_int_equal(r.next_check_seconds, 3600);
}

static void no_update_needs_only_the_flag_and_tolerates_nulls(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    const char *body =
        "{\"update_available\":false,\"current_version\":\"1.0.0\",\"latest_version\":\"1.0.0\","
        "\"download_url\":null,\"checksum_sha256\":null,\"size_bytes\":null,\"signature\":null,"
        "\"signature_algorithm\":null,\"release_notes\":null,\"rollout\":null,"
        "\"is_rollback\":false,\"next_check_seconds\":600}";
    assert_int_equal(parse(body, &r, NULL), PAKU_OTA_OK);
    assert_false(r.update_available);
    assert_int_equal(r.next_check_seconds, 600);
    assert_int_equal(parse("{\"update_available\":false}", &r, NULL), PAKU_OTA_OK);
    assert_false(r.has_next_check);
}

static void unsigned_offer_and_ecdsa_offer_are_understood(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    char body[8192];
    snprintf(body, sizeof(body), "%s", with_field("signature", "null"));
    const char *alg = strstr(body, "\"rsa-pkcs1v15-sha256\"");
    assert_non_null(alg);
    char body2[8192];
    snprintf(body2, sizeof(body2), "%.*snull%s", (int)(alg - body), body,
             alg + strlen("\"rsa-pkcs1v15-sha256\""));
    assert_int_equal(parse(body2, &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.signature_len, 0);
    assert_int_equal(r.signature_algorithm, PAKU_OTA_SIG_NONE);

    assert_int_equal(parse(with_field("signature_algorithm", "\"ecdsa-p256-sha256\""), &r, NULL),
                     PAKU_OTA_OK);
    assert_int_equal(r.signature_algorithm, PAKU_OTA_SIG_ECDSA_P256_SHA256);
}

static void uppercase_checksum_is_normalised(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    assert_int_equal(parse(with_field("checksum_sha256",
                                      "\"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\""),
                           &r, NULL),
                     PAKU_OTA_OK);
    assert_string_equal(r.checksum_sha256, SHA);
}

typedef struct {
    const char *field;
    const char *value; /* NULL: remove the field */
    paku_ota_err_t want;
} field_case_t;

static void each_bad_field_gives_its_own_error_code(void **state)
{
    (void)state;
    char long_str[700];
    memset(long_str, 'a', sizeof(long_str));
    long_str[0] = '"';
    long_str[sizeof(long_str) - 2] = '"';
    long_str[sizeof(long_str) - 1] = '\0';
    char long_url[700];
    memset(long_url, 'a', sizeof(long_url));
    long_url[0] = '"';
    long_url[1] = '/';
    long_url[sizeof(long_url) - 2] = '"';
    long_url[sizeof(long_url) - 1] = '\0';
    char long_sig[800];
    memset(long_sig, 'A', sizeof(long_sig));
    long_sig[0] = '"';
    long_sig[sizeof(long_sig) - 2] = '"';
    long_sig[sizeof(long_sig) - 1] = '\0';

    const field_case_t cases[] = {
        {"update_available", NULL, PAKU_OTA_ERR_JSON_MISSING_FIELD},
        {"update_available", "\"true\"", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"update_available", "1", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"update_available", "null", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"latest_version", NULL, PAKU_OTA_ERR_JSON_MISSING_FIELD},
        {"latest_version", "110", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"latest_version", "\"1.1\"", PAKU_OTA_ERR_INVALID_VERSION},
        {"latest_version", long_str, PAKU_OTA_ERR_JSON_TOO_LONG},
        {"download_url", NULL, PAKU_OTA_ERR_JSON_MISSING_FIELD},
        {"download_url", "[]", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"download_url", "\"http://evil.example/fw.bin\"", PAKU_OTA_ERR_BAD_URL},
        {"download_url", "\"//evil.example/fw.bin\"", PAKU_OTA_ERR_BAD_URL},
        {"download_url", "\"/api/fw bin\"", PAKU_OTA_ERR_BAD_URL},
        {"download_url", "\"/api/fw\\nHost: x\"", PAKU_OTA_ERR_BAD_URL},
        {"download_url", "\"\"", PAKU_OTA_ERR_BAD_URL},
        {"download_url", long_url, PAKU_OTA_ERR_JSON_TOO_LONG},
        {"checksum_sha256", NULL, PAKU_OTA_ERR_JSON_MISSING_FIELD},
        {"checksum_sha256", "42", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"checksum_sha256", "\"zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
         PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT},
        {"checksum_sha256", "\"9f86d0\"", PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT},
        {"checksum_sha256", "\"" SHA "00\"", PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT},
        {"checksum_sha256", long_str, PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT},
        {"size_bytes", NULL, PAKU_OTA_ERR_JSON_MISSING_FIELD},
        {"size_bytes", "\"1572864\"", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"size_bytes", "0", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "-1", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "1.5", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "1e300", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "1e999", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "18446744073709551616", PAKU_OTA_ERR_BAD_SIZE},
        {"size_bytes", "1073741825", PAKU_OTA_ERR_BAD_SIZE},
        {"signature", "123", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"signature", "\"not base64!\"", PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT},
        {"signature", "\"AQID\\nBA==\"", PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT},
        {"signature", "\"\"", PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT},
        {"signature", "\"AQIDB\"", PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT},
        {"signature", long_sig, PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT},
        {"signature", "null", PAKU_OTA_ERR_INCONSISTENT_RESPONSE},
        {"signature_algorithm", "\"rsa-pss-sha256\"", PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM},
        {"signature_algorithm", "\"RSA-PKCS1V15-SHA256\"", PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM},
        {"signature_algorithm", "true", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"signature_algorithm", "null", PAKU_OTA_ERR_INCONSISTENT_RESPONSE},
        {"is_rollback", "\"false\"", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"is_rollback", "0", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"next_check_seconds", "\"3600\"", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"rollout", "{}", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"rollout", long_str, PAKU_OTA_ERR_JSON_TOO_LONG},
        {"release_notes", "[1,2]", PAKU_OTA_ERR_JSON_WRONG_TYPE},
        {"current_version", "1", PAKU_OTA_ERR_JSON_WRONG_TYPE},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        paku_ota_check_response_t r;
        const char *detail = NULL;
        const char *body = with_field(cases[i].field, cases[i].value);
        paku_ota_err_t got = parse(body, &r, &detail);
        if (got != cases[i].want) {
            print_error("%s=%.40s: want %s, got %s\n", cases[i].field,
                        cases[i].value != NULL ? cases[i].value : "(removed)",
                        paku_ota_err_to_name(cases[i].want), paku_ota_err_to_name(got));
            failures++;
        } else if (detail == NULL || strstr(detail, cases[i].field) == NULL) {
            if (!(cases[i].want == PAKU_OTA_ERR_INCONSISTENT_RESPONSE && detail != NULL)) {
                print_error("%s: detail '%s' does not name the field\n", cases[i].field,
                            detail != NULL ? detail : "(null)");
                failures++;
            }
        }
        /* A failed parse leaves nothing half-filled behind. */
        if (got != PAKU_OTA_OK && (r.update_available || r.size_bytes != 0 ||
                                   r.latest_version[0] != '\0')) {
            print_error("%s: output not cleared on error\n", cases[i].field);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void next_check_is_clamped_not_refused(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    assert_int_equal(parse(with_field("next_check_seconds", "0"), &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.next_check_seconds, PAKU_OTA_NEXT_CHECK_MIN_S);
    assert_int_equal(parse(with_field("next_check_seconds", "-5"), &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.next_check_seconds, PAKU_OTA_NEXT_CHECK_MIN_S);
    assert_int_equal(parse(with_field("next_check_seconds", "1e12"), &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.next_check_seconds, PAKU_OTA_NEXT_CHECK_MAX_S);
    assert_int_equal(parse(with_field("next_check_seconds", "90.7"), &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.next_check_seconds, 90);
}

static void malformed_documents_are_syntax_errors(void **state)
{
    (void)state;
    const char *bad[] = {"",        "   ",     "null",       "[]",         "\"x\"",
                         "42",      "{",       "{\"a\":}",   "{'a':1}",    "{\"update_available\":tru}",
                         "{} {}",   "{}x",     "\xff\xfe{}", "{\"a\":1,}", "{\"update_available\":false}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        paku_ota_check_response_t r;
        paku_ota_err_t err = parse(bad[i], &r, NULL);
        if (err != PAKU_OTA_ERR_JSON_SYNTAX) {
            fail_msg("'%s' gave %s", bad[i], paku_ota_err_to_name(err));
        }
    }
    /* trailing whitespace is fine */
    paku_ota_check_response_t r;
    assert_int_equal(parse("{\"update_available\":false}\r\n ", &r, NULL), PAKU_OTA_OK);
}

static void embedded_nul_and_deep_nesting_are_refused_before_parsing(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    const char body[] = "{\"update_available\":false}\0garbage";
    assert_int_equal(paku_ota_parse_check_response(body, sizeof(body) - 1, &r, NULL),
                     PAKU_OTA_ERR_JSON_SYNTAX);

    /* 100000 nested arrays would recurse deep inside cJSON on a small stack. */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 64);
    assert_non_null(deep);
    strcpy(deep, "{\"update_available\":false,\"x\":");
    size_t n = strlen(deep);
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    deep[n + 2 * depth] = '}';
    deep[n + 2 * depth + 1] = '\0';
    const char *detail = NULL;
    assert_int_equal(parse(deep, &r, &detail), PAKU_OTA_ERR_JSON_SYNTAX);
    assert_string_equal(detail, "(nesting)");
    free(deep);

    /* brackets inside strings do not count */
    assert_int_equal(parse("{\"update_available\":false,\"release_notes\":\"[[[[[[[[[[[[[[\"}", &r,
                           NULL),
                     PAKU_OTA_OK);
}

static void body_is_never_read_past_its_length(void **state)
{
    (void)state;
    /* Exact-size heap copy without terminator: ASan flags any over-read. */
    size_t len = strlen(VALID);
    char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, VALID, len);
    paku_ota_check_response_t r;
    assert_int_equal(paku_ota_parse_check_response(copy, len, &r, NULL), PAKU_OTA_OK);
    for (size_t cut = 0; cut < len; cut++) {
        char *part = malloc(cut > 0 ? cut : 1);
        assert_non_null(part);
        memcpy(part, VALID, cut);
        assert_int_not_equal(paku_ota_parse_check_response(part, cut, &r, NULL), PAKU_OTA_OK);
        free(part);
    }
    free(copy);
}

static void random_mutations_never_crash_and_always_give_a_known_code(void **state)
{
    (void)state;
    size_t len = strlen(VALID);
    char *buf = malloc(len);
    assert_non_null(buf);
    uint32_t x = 2463534242u;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, VALID, len);
        int edits = 1 + (int)(x % 4u);
        for (int e = 0; e < edits; e++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t pos = x % len;
            static const char alphabet[] = "{}[]\":,0123456789-.eE+truefalsnl \\/\x01\x80\xff";
            buf[pos] = alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
        }
        paku_ota_check_response_t r;
        paku_ota_err_t err = paku_ota_parse_check_response(buf, len, &r, NULL);
        assert_string_not_equal(paku_ota_err_to_name(err), "PAKU_OTA_ERR_UNKNOWN");
        if (err == PAKU_OTA_OK) {
            accepted++;
            /* whatever got through still satisfies the invariants */
            if (r.update_available) {
                assert_true(paku_ota_version_is_valid(r.latest_version));
                assert_true(paku_ota_is_sha256_hex(r.checksum_sha256));
                assert_true(r.size_bytes >= 1 && r.size_bytes <= PAKU_OTA_IMAGE_SIZE_SANITY_MAX);
                assert_int_equal(r.download_url[0], '/');
                assert_true(r.signature_len <= PAKU_OTA_SIGNATURE_MAX_LEN);
            }
        }
    }
    print_message("mutations accepted: %d of 20000\n", accepted);
    free(buf);
}

/* What System.Text.Json writes: '+' in base64 as \u002B, non-ASCII as
 * \uXXXX (surrogate pairs above the BMP); escaped keys name the same member. */
static void escaped_strings_are_read_as_their_characters(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    /* base64 "+/8=" is 0xfb 0xff */
    assert_int_equal(parse(with_field("signature", "\"\\u002B\\/8=\""), &r, NULL), PAKU_OTA_OK);
    assert_int_equal(r.signature_len, 2);
    assert_int_equal(r.signature[0], 0xfb);
    assert_int_equal(r.signature[1], 0xff);

    assert_int_equal(parse(with_field("rollout", "\"caf\\u00e9 \\ud83d\\ude80\""), &r, NULL),
                     PAKU_OTA_OK);
    assert_string_equal(r.rollout, "caf\xc3\xa9 \xf0\x9f\x9a\x80");

    assert_int_equal(parse("{\"update\\u005favailable\":true}", &r, NULL),
                     PAKU_OTA_ERR_JSON_MISSING_FIELD); /* found the flag, then needs an offer */

    /* A lone surrogate or U+0000 (which would cut the string short) is refused. */
    assert_int_equal(parse(with_field("rollout", "\"a\\ud800b\""), &r, NULL),
                     PAKU_OTA_ERR_JSON_SYNTAX);
    assert_int_equal(parse(with_field("rollout", "\"a\\u0000b\""), &r, NULL),
                     PAKU_OTA_ERR_JSON_SYNTAX);
    /* The first of duplicate members counts. */
    assert_int_equal(parse("{\"update_available\":false,\"update_available\":true}", &r, NULL),
                     PAKU_OTA_OK);
    assert_false(r.update_available);
}

static void null_arguments_are_refused(void **state)
{
    (void)state;
    paku_ota_check_response_t r;
    assert_int_equal(paku_ota_parse_check_response(NULL, 3, &r, NULL), PAKU_OTA_ERR_INVALID_ARG);
    assert_int_equal(paku_ota_parse_check_response("{}", 2, NULL, NULL), PAKU_OTA_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_offer_is_parsed_into_every_field),
        cmocka_unit_test(no_update_needs_only_the_flag_and_tolerates_nulls),
        cmocka_unit_test(unsigned_offer_and_ecdsa_offer_are_understood),
        cmocka_unit_test(uppercase_checksum_is_normalised),
        cmocka_unit_test(each_bad_field_gives_its_own_error_code),
        cmocka_unit_test(next_check_is_clamped_not_refused),
        cmocka_unit_test(malformed_documents_are_syntax_errors),
        cmocka_unit_test(embedded_nul_and_deep_nesting_are_refused_before_parsing),
        cmocka_unit_test(body_is_never_read_past_its_length),
        cmocka_unit_test(random_mutations_never_crash_and_always_give_a_known_code),
        cmocka_unit_test(escaped_strings_are_read_as_their_characters),
        cmocka_unit_test(null_arguments_are_refused),
    };
    return cmocka_run_group_tests_name("check_response", tests, NULL, NULL);
}
