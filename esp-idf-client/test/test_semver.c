/* SemVer: the shared table (every line) plus the edges the table leaves out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "test_util.h"

static const char *g_table_path;

static int cmp_or_fail(const char *a, const char *b, int line, int *failures)
{
    int c = 99;
    paku_ota_err_t err = paku_ota_version_compare(a, b, &c);
    if (err != PAKU_OTA_OK) {
        print_error("line %d: '%s' vs '%s' refused (%s)\n", line, a, b, paku_ota_err_to_name(err));
        (*failures)++;
    }
    return c;
}

static void every_line_of_the_shared_table_holds(void **state)
{
    (void)state;
    FILE *f = fopen(g_table_path, "r");
    if (f == NULL) {
        fail_msg("cannot open the shared SemVer table %s", g_table_path);
    }
    char line[512];
    int lineno = 0;
    int cases = 0;
    int invalid_cases = 0;
    int failures = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0'; /* only the line end: trailing spaces are data */
        }
        if (n == 0 || line[0] == '#') {
            continue;
        }
        if (strncmp(line, "! ", 2) == 0) {
            const char *candidate = line + 2;
            cases++;
            invalid_cases++;
            int c = 0;
            if (paku_ota_version_is_valid(candidate) ||
                paku_ota_version_compare(candidate, "1.0.0", &c) != PAKU_OTA_ERR_INVALID_VERSION ||
                paku_ota_version_compare("1.0.0", candidate, &c) != PAKU_OTA_ERR_INVALID_VERSION) {
                print_error("line %d: '%s' accepted but must be refused\n", lineno, candidate);
                failures++;
            }
            continue;
        }
        char *op = strstr(line, " < ");
        char kind = '<';
        if (op == NULL) {
            op = strstr(line, " = ");
            kind = '=';
        }
        if (op == NULL) {
            print_error("line %d: cannot read '%s'\n", lineno, line);
            failures++;
            continue;
        }
        *op = '\0';
        const char *a = line;
        const char *b = op + 3;
        cases++;
        int ab = cmp_or_fail(a, b, lineno, &failures);
        int ba = cmp_or_fail(b, a, lineno, &failures);
        int want = kind == '<' ? -1 : 0;
        if (ab != want || ba != -want) {
            print_error("line %d: %s %c %s but compare gave %d / %d\n", lineno, a, kind, b, ab, ba);
            failures++;
        }
        /* Reflexive: each side equals itself. */
        if (cmp_or_fail(a, a, lineno, &failures) != 0 || cmp_or_fail(b, b, lineno, &failures) != 0) {
            print_error("line %d: not reflexive\n", lineno);
            failures++;
        }
    }
    fclose(f);
    print_message("shared SemVer table: %d cases (%d invalid), %d failures\n", cases,
                  invalid_cases, failures);
    assert_int_equal(failures, 0);
    assert_true(cases >= 40);       /* the table must not silently shrink to nothing */
    assert_true(invalid_cases >= 10);
}

static void version_of_128_chars_is_accepted_and_129_refused(void **state)
{
    (void)state;
    char v[200];
    /* "1.0.0-" + identifiers of 'a' up to the limit */
    strcpy(v, "1.0.0-");
    size_t n = strlen(v);
    while (n < PAKU_OTA_VERSION_MAX_LEN) {
        v[n++] = 'a';
    }
    v[n] = '\0';
    assert_int_equal(strlen(v), 128);
    assert_true(paku_ota_version_is_valid(v));
    v[n++] = 'a';
    v[n] = '\0';
    assert_false(paku_ota_version_is_valid(v));
}

static void numbers_beyond_uint64_are_invalid_everywhere(void **state)
{
    (void)state;
    assert_true(paku_ota_version_is_valid("18446744073709551615.18446744073709551615.0"));
    assert_false(paku_ota_version_is_valid("0.18446744073709551616.0"));
    assert_false(paku_ota_version_is_valid("0.0.18446744073709551616"));
    assert_true(paku_ota_version_is_valid("1.0.0-18446744073709551615"));
    assert_false(paku_ota_version_is_valid("1.0.0-18446744073709551616"));
    /* build metadata is not a number: leading zeros and length are fine */
    assert_true(paku_ota_version_is_valid("1.0.0+0018446744073709551616"));
}

static void whitespace_prefixes_and_odd_characters_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"v", "V", "v 1.0.0", "1.0.0\t", "\n1.0.0", "1.0.0-a b", "1.0.0+a b",
                         "1..0", "1.0.0-", "1.0.0-.a", "1.0.0-a.", "1.0.0+a.", "+1.0.0",
                         "1.0.0-\xc3\xa9", "1.0", "v-1.0.0", "1.0.0.", "Vv1.0.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (paku_ota_version_is_valid(bad[i])) {
            fail_msg("'%s' must be invalid", bad[i]);
        }
    }
    assert_true(paku_ota_version_is_valid("v0.0.0"));
    assert_true(paku_ota_version_is_valid("1.0.0-x-y-z.--"));
}

static void compare_refuses_null_and_leaves_result_untouched(void **state)
{
    (void)state;
    int c = 42;
    assert_int_equal(paku_ota_version_compare(NULL, "1.0.0", &c), PAKU_OTA_ERR_INVALID_ARG);
    assert_int_equal(paku_ota_version_compare("1.0.0", NULL, &c), PAKU_OTA_ERR_INVALID_ARG);
    assert_int_equal(paku_ota_version_compare("1.0.0", "1.0.0", NULL), PAKU_OTA_ERR_INVALID_ARG);
    assert_int_equal(paku_ota_version_compare("x", "1.0.0", &c), PAKU_OTA_ERR_INVALID_VERSION);
    assert_int_equal(c, 42);
    assert_false(paku_ota_version_is_valid(NULL));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_semver SEMVER_CASES_FILE\n");
        return 2;
    }
    g_table_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_line_of_the_shared_table_holds),
        cmocka_unit_test(version_of_128_chars_is_accepted_and_129_refused),
        cmocka_unit_test(numbers_beyond_uint64_are_invalid_everywhere),
        cmocka_unit_test(whitespace_prefixes_and_odd_characters_are_refused),
        cmocka_unit_test(compare_refuses_null_and_leaves_result_untouched),
    };
    return cmocka_run_group_tests_name("semver", tests, NULL, NULL);
}
