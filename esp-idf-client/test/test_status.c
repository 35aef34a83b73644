/* The status reporting state machine and the report body, plus the small
 * HTTP header parsers the download relies on. */
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "paku_ota_internal.h"
#include "test_util.h"

typedef struct {
    paku_ota_status_t status[32];
    int progress[32];
    char reason[32][PAKU_OTA_REASON_MAX_LEN];
    int n;
} sent_t;

static paku_ota_err_t record(void *user, paku_ota_status_t status, int progress, const char *reason)
{
    sent_t *s = user;
    if (s->n < 32) {
        s->status[s->n] = status;
        s->progress[s->n] = progress;
        snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", reason != NULL ? reason : "");
        s->n++;
    }
    return PAKU_OTA_OK;
}

static void download_reports_each_new_decile_once(void **state)
{
    (void)state;
    sent_t s = {0};
    paku_ota_reporter_t r;
    paku_ota_reporter_init(&r, record, &s);
    uint64_t total = 1000003;
    for (uint64_t done = 0; done <= total; done += 4096) {
        paku_ota_reporter_progress(&r, done, total);
    }
    paku_ota_reporter_progress(&r, total, total);
    assert_int_equal(s.n, 11);
    for (int i = 0; i < s.n; i++) {
        assert_int_equal(s.status[i], PAKU_OTA_STATUS_DOWNLOADING);
        assert_int_equal(s.progress[i], i * 10);
    }
}

static void resumed_download_starts_at_its_current_decile(void **state)
{
    (void)state;
    sent_t s = {0};
    paku_ota_reporter_t r;
    paku_ota_reporter_init(&r, record, &s);
    assert_true(paku_ota_reporter_progress(&r, 550, 1000));
    assert_false(paku_ota_reporter_progress(&r, 560, 1000));
    assert_false(paku_ota_reporter_progress(&r, 100, 1000)); /* never backwards */
    assert_true(paku_ota_reporter_progress(&r, 600, 1000));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.progress[0], 50);
    assert_int_equal(s.progress[1], 60);
}

static void install_then_success_is_the_only_way_to_success(void **state)
{
    (void)state;
    sent_t s = {0};
    paku_ota_reporter_t r;
    paku_ota_reporter_init(&r, record, &s);
    assert_false(paku_ota_reporter_success(&r)); /* not from IDLE */
    paku_ota_reporter_progress(&r, 1000, 1000);
    assert_false(paku_ota_reporter_success(&r)); /* not from DOWNLOADING */
    assert_true(paku_ota_reporter_installing(&r));
    assert_false(paku_ota_reporter_installing(&r));
    assert_false(paku_ota_reporter_progress(&r, 1000, 1000));
    assert_true(paku_ota_reporter_success(&r));
    assert_false(paku_ota_reporter_failed(&r, "late")); /* terminal */
    assert_int_equal(r.phase, PAKU_OTA_PHASE_SUCCESS);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.status[1], PAKU_OTA_STATUS_INSTALLING);
    assert_int_equal(s.progress[1], 100);
    assert_int_equal(s.status[2], PAKU_OTA_STATUS_SUCCESS);
}

static void failure_carries_reason_and_last_progress(void **state)
{
    (void)state;
    sent_t s = {0};
    paku_ota_reporter_t r;
    paku_ota_reporter_init(&r, record, &s);
    paku_ota_reporter_progress(&r, 730, 1000);
    assert_true(paku_ota_reporter_failed(&r, "signature does not verify"));
    assert_false(paku_ota_reporter_failed(&r, "again"));
    assert_false(paku_ota_reporter_progress(&r, 900, 1000));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.status[1], PAKU_OTA_STATUS_FAILED);
    assert_int_equal(s.progress[1], 70);
    assert_string_equal(s.reason[1], "signature does not verify");

    sent_t s2 = {0};
    paku_ota_reporter_init(&r, record, &s2);
    assert_true(paku_ota_reporter_failed(&r, NULL));
    assert_int_equal(s2.progress[0], 0);
    assert_string_equal(s2.reason[0], "unknown error");
}

static void status_body_is_the_contract_json(void **state)
{
    (void)state;
    char out[1400];
    assert_int_equal(paku_ota_status_json("esp32_001", "1.1.0", PAKU_OTA_STATUS_DOWNLOADING, 40,
                                          NULL, out, sizeof(out)),
                     PAKU_OTA_OK);
    assert_string_equal(out, "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\","
                             "\"status\":\"downloading\",\"progress_percent\":40}");
    assert_int_equal(paku_ota_status_json("d\"1", "1.1.0", PAKU_OTA_STATUS_FAILED, 250,
                                          "bad \"sig\"\n\\", out, sizeof(out)),
                     PAKU_OTA_OK);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "device_id")->valuestring, "d\"1");
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "failed");
    assert_int_equal(cJSON_GetObjectItem(j, "progress_percent")->valueint, 100);
    assert_string_equal(cJSON_GetObjectItem(j, "error_message")->valuestring, "bad \"sig\"\n\\");
    cJSON_Delete(j);
    /* too small a buffer is an error, never a truncated document */
    assert_int_equal(paku_ota_status_json("esp32_001", "1.1.0", PAKU_OTA_STATUS_SUCCESS, 100,
                                          NULL, out, 40),
                     PAKU_OTA_ERR_BUFFER_TOO_SMALL);
    assert_string_equal(out, "");
}

static void long_reasons_are_cut_to_the_limit(void **state)
{
    (void)state;
    char reason[1000];
    memset(reason, 'x', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    char out[1400];
    assert_int_equal(paku_ota_status_json("id", "1.0.0", PAKU_OTA_STATUS_FAILED, 0, reason, out,
                                          sizeof(out)),
                     PAKU_OTA_OK);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(strlen(cJSON_GetObjectItem(j, "error_message")->valuestring),
                     PAKU_OTA_REASON_MAX_LEN - 1);
    cJSON_Delete(j);
}

static void content_range_is_parsed_strictly(void **state)
{
    (void)state;
    uint64_t s;
    uint64_t e;
    uint64_t t;
    assert_true(paku_ota_parse_content_range("bytes 524288-1572863/1572864", &s, &e, &t));
    assert_int_equal(s, 524288);
    assert_int_equal(e, 1572863);
    assert_int_equal(t, 1572864);
    const char *bad[] = {"bytes 5-4/10",  "bytes 0-10/10", "bytes */10",  "bytes 0-1/*",
                         "items 0-1/10",  "bytes0-1/10",   "bytes 0-1/10x", "",
                         "bytes 1-2/99999999999999999999", "bytes -1-2/10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (paku_ota_parse_content_range(bad[i], &s, &e, &t)) {
            fail_msg("'%s' accepted", bad[i]);
        }
    }
}

static void retry_after_and_etag_are_parsed(void **state)
{
    (void)state;
    uint32_t s = 0;
    assert_true(paku_ota_parse_retry_after("120", &s));
    assert_int_equal(s, 120);
    assert_true(paku_ota_parse_retry_after(" 7 ", &s));
    assert_int_equal(s, 7);
    assert_true(paku_ota_parse_retry_after("99999999999", &s));
    assert_int_equal(s, UINT32_MAX);
    assert_false(paku_ota_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", &s));
    assert_false(paku_ota_parse_retry_after("-1", &s));
    assert_false(paku_ota_parse_retry_after("", &s));

    char v[128];
    assert_true(paku_ota_etag_value("\"ABCdef\"", v, sizeof(v)));
    assert_string_equal(v, "abcdef");
    assert_true(paku_ota_etag_value("W/\"abc\"", v, sizeof(v)));
    assert_string_equal(v, "abc");
    assert_true(paku_ota_etag_value("abc", v, sizeof(v)));
    assert_false(paku_ota_etag_value("\"\"", v, sizeof(v)));
    assert_false(paku_ota_etag_value("\"abcdef\"", v, 4));
}

static void query_values_are_percent_encoded(void **state)
{
    (void)state;
    char out[64];
    assert_true(paku_ota_url_encode("1.0.0+build.5", out, sizeof(out)));
    assert_string_equal(out, "1.0.0%2Bbuild.5");
    assert_true(paku_ota_url_encode("a b&c=d/é", out, sizeof(out)));
    assert_string_equal(out, "a%20b%26c%3Dd%2F%C3%A9");
    assert_false(paku_ota_url_encode("&&&&", out, 12));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(download_reports_each_new_decile_once),
        cmocka_unit_test(resumed_download_starts_at_its_current_decile),
        cmocka_unit_test(install_then_success_is_the_only_way_to_success),
        cmocka_unit_test(failure_carries_reason_and_last_progress),
        cmocka_unit_test(status_body_is_the_contract_json),
        cmocka_unit_test(long_reasons_are_cut_to_the_limit),
        cmocka_unit_test(content_range_is_parsed_strictly),
        cmocka_unit_test(retry_after_and_etag_are_parsed),
        cmocka_unit_test(query_values_are_percent_encoded),
    };
    return cmocka_run_group_tests_name("status_and_http", tests, NULL, NULL);
}
