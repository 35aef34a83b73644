/*
 * The whole update flow through the scripted fake port: state machine and
 * status reporting, resume bookkeeping, refusals (downgrade, checksum,
 * signature), Retry-After and back-off, confirmation and rollback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_port.h"
#include "paku_ota_internal.h"
#include "paku_ota_log.h"
#include "test_util.h"

typedef struct {
    uint8_t *image;     /* fw.bin, 307200 bytes */
    size_t image_len;
    char sha[65];
    uint8_t *other;     /* fw-1.1.0.bin */
    size_t other_len;
    char other_sha[65];
    fake_t f;
    paku_ota_config_t cfg;
    paku_ota_handle_t h;
    char *pubkey;
    uint8_t *stamped; /* an image with an esp_app_desc_t, see stamp() */
} fx_t;

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));
    x->image = fixture_read("fw.bin", &x->image_len);
    char *sha = (char *)fixture_read("fw.sha256", NULL);
    memcpy(x->sha, sha, 64);
    free(sha);
    x->other = fixture_read("fw-1.1.0.bin", &x->other_len);
    sha = (char *)fixture_read("fw-1.1.0.sha256", NULL);
    memcpy(x->other_sha, sha, 64);
    free(sha);
    fake_init(&x->f, x->image, x->image_len, 1024 * 1024, "1.0.0");
    paku_ota_config_default(&x->cfg);
    x->cfg.server_url = "https://ota.test:8443/";
    x->cfg.device_id = "esp32_001";
    x->cfg.device_model = "esp32";
    x->cfg.retry_base_ms = 100;
    x->cfg.retry_max_ms = 2000;
    x->cfg.max_attempts = 4;
    x->cfg.max_inline_retry_after_s = 60;
    x->cfg.check_interval_s = 3600;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;
    paku_ota_destroy(x->h);
    fake_free(&x->f);
    free(x->image);
    free(x->other);
    free(x->pubkey);
    free(x->stamped);
    free(x);
    return 0;
}

static void start(fx_t *x)
{
    paku_ota_destroy(x->h);
    x->h = NULL;
    assert_int_equal(paku_ota_create(&x->cfg, &x->f.port, &x->h), PAKU_OTA_OK);
}

static void use_key(fx_t *x, const char *name)
{
    free(x->pubkey);
    x->pubkey = (char *)fixture_read(name, NULL);
    x->cfg.signing_pubkey_pem = x->pubkey;
}

/* Queue an offer of the fake's image. sig_file: fixture with the raw
 * signature, or NULL for an unsigned release. */
/* Install the offered update, then "reboot" into it: the confirm tests' start. */
static void install_and_reboot(fx_t *x)
{
    paku_ota_result_t r;
    start(x);
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    paku_ota_restart(x->h);
}

/* A fresh fake for one more round of a table-driven test. */
static void fresh_fake(fx_t *x)
{
    fake_free(&x->f);
    fake_init(&x->f, x->image, x->image_len, 1024 * 1024, "1.0.0");
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Serve a copy of fw.bin made into an ESP app image whose esp_app_desc_t
 * says version / project / secure_version; sha gets its SHA-256. */
static void stamp(fx_t *x, const char *version, const char *project, uint32_t secure_version,
                  char sha[65])
{
    free(x->stamped);
    x->stamped = malloc(x->image_len);
    memcpy(x->stamped, x->image, x->image_len);
    uint8_t *img = x->stamped;
    img[0] = PAKU_OTA_IMAGE_MAGIC;
    uint8_t *d = img + PAKU_OTA_APP_DESC_OFFSET;
    put_le32(d, PAKU_OTA_APP_DESC_MAGIC);
    put_le32(d + 4, secure_version);
    memset(d + 16, 0, 64);
    memcpy(d + 16, version, strlen(version));
    memcpy(d + 48, project, strlen(project));
    paku_ota_sha256_t *h = paku_ota_sha256_new();
    uint8_t digest[32];
    assert_int_equal(paku_ota_sha256_start(h), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_update(h, img, x->image_len), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_finish(h, digest), PAKU_OTA_OK);
    paku_ota_sha256_free(h);
    paku_ota_hex_encode(digest, sizeof(digest), sha);
    x->f.image = img;
}

static void offer(fx_t *x, const char *version, const char *sha, const char *sig_file,
                  const char *alg, bool rollback)
{
    char sig_json[1024] = "null";
    char alg_json[64] = "null";
    if (sig_file != NULL) {
        size_t n = 0;
        uint8_t *sig = fixture_read(sig_file, &n);
        char *b64 = test_base64(sig, n);
        snprintf(sig_json, sizeof(sig_json), "\"%s\"", b64);
        snprintf(alg_json, sizeof(alg_json), "\"%s\"", alg);
        free(b64);
        free(sig);
    }
    char body[4096];
    snprintf(body, sizeof(body),
             "{\"update_available\":true,\"current_version\":\"%s\",\"latest_version\":\"%s\","
             "\"download_url\":\"/api/firmware/download/%s?device_model=esp32\","
             "\"checksum_sha256\":\"%s\",\"size_bytes\":%zu,\"signature\":%s,"
             "\"signature_algorithm\":%s,\"release_notes\":null,\"rollout\":\"r1\","
             "\"is_rollback\":%s,\"next_check_seconds\":1800}",
             x->f.running, version, version, sha, x->f.image_len, sig_json, alg_json,
             rollback ? "true" : "false");
    fake_reply(&x->f, 200, body, NULL);
}

static void no_offer(fx_t *x, int next)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"update_available\":false,\"current_version\":\"%s\",\"latest_version\":\"%s\","
             "\"download_url\":null,\"checksum_sha256\":null,\"size_bytes\":null,"
             "\"signature\":null,\"signature_algorithm\":null,\"is_rollback\":false,"
             "\"next_check_seconds\":%d}",
             x->f.running, x->f.running, next);
    fake_reply(&x->f, 200, body, NULL);
}

static void assert_flash_holds_image(const fx_t *x)
{
    assert_memory_equal(x->f.flash, x->f.image, x->f.image_len);
}

/* ------------------------------------------------------------------------ */

static void up_to_date_reports_nothing_and_keeps_the_server_pace(void **state)
{
    fx_t *x = *state;
    no_offer(x, 900);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UP_TO_DATE);
    assert_int_equal(r.next_check_s, 900);
    assert_string_equal(r.from_version, "1.0.0");
    assert_int_equal(x->f.n_posts, 0);
    assert_int_equal(x->f.download_calls, 0);
    assert_non_null(strstr(x->f.last_check_url,
                           "https://ota.test:8443/api/firmware/check?device_id=esp32_001"
                           "&device_model=esp32&current_version=1.0.0"));
}

static void update_streams_verifies_sets_boot_and_reports_in_order(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->cfg.range_request_size = 32768; /* ten ranges of fw.bin, a report after each */
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_string_equal(r.to_version, "1.1.0");
    assert_int_equal(r.resumed_at, 0);
    assert_int_equal(r.next_check_s, 1800);
    assert_flash_holds_image(x);
    assert_string_equal(x->f.boot_version, "1.1.0");
    assert_string_equal(x->f.running, "1.0.0"); /* not before the restart */
    assert_int_equal(x->f.download_calls, 10);
    /* every report went out between responses, on the one connection */
    assert_int_equal(x->f.nested, 0);
    assert_int_equal(x->f.handshakes, 1);
    assert_false(x->f.connected); /* closed when the call returned */
    /* downloading 0,10,...,100 then installing, then success */
    int expect = 0;
    int i = 0;
    for (; i < x->f.n_posts && strcmp(x->f.posts[i].status, "downloading") == 0; i++) {
        assert_int_equal(x->f.posts[i].progress, expect);
        assert_string_equal(x->f.posts[i].version, "1.1.0");
        expect += 10;
    }
    assert_int_equal(expect, 110);
    assert_string_equal(x->f.posts[i].status, "installing");
    assert_string_equal(x->f.posts[i + 1].status, "success");
    assert_int_equal(x->f.n_posts, i + 2);
    /* the pending confirmation is recorded before the reboot */
    assert_true(x->f.st.pending_confirm);
    assert_string_equal(x->f.st.target_version, "1.1.0");
    assert_string_equal(x->f.st.previous_version, "1.0.0");
}

static void dropped_connection_resumes_with_range_from_the_bytes_written(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.drop_after[0] = 100000;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->f.download_calls, 2);
    assert_true(x->f.had_range[1]);
    assert_int_equal(x->f.range_start[1], 100000);
    assert_int_equal(x->f.range_end[1], UINT64_MAX);
    assert_int_equal(r.resumed_at, 100000);
    /* within the call the running hash is kept: nothing is read back (a port
     * without read-back, the ESP8266 Updater, depends on it) */
    assert_int_equal(x->f.read_bytes, 0);
    assert_flash_holds_image(x);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 0);
    assert_int_equal(x->f.n_sleeps, 1); /* one back-off before the retry */
    assert_true(x->f.sleeps[0] <= x->cfg.retry_base_ms);
}

#define LINK "https://files.test/fw/ab/abcd?md5=x&expires=1"

/* The service redirects the download to a signed link on a file server: the
 * bytes come from the link; when the connection to it drops, and when the
 * link then has expired (410), the service is asked again and the download
 * resumes with Range where it stopped. */
static void offloaded_download_follows_the_redirect_and_asks_the_service_again_when_the_link_expired(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 302;
    snprintf(x->f.location[0], sizeof(x->f.location[0]), "%s", LINK);
    x->f.drop_after[1] = 100000;
    x->f.status_override[2] = 302;
    snprintf(x->f.location[2], sizeof(x->f.location[2]), "%s", LINK);
    x->f.status_override[3] = 410;
    x->f.status_override[4] = 302;
    snprintf(x->f.location[4], sizeof(x->f.location[4]), "%s", LINK);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->f.download_calls, 6);
    for (int i = 0; i < 6; i += 2) {
        assert_non_null(strstr(x->f.url[i], "https://ota.test:8443/api/firmware/download/1.1.0"));
        assert_string_equal(x->f.url[i + 1], LINK);
    }
    /* after the drop, the service and the link are both asked from byte 100000 */
    for (int i = 2; i < 6; i++) {
        assert_true(x->f.had_range[i]);
        assert_int_equal(x->f.range_start[i], 100000);
    }
    assert_flash_holds_image(x);
}

static void a_download_link_that_redirects_again_is_not_followed(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 302;
    snprintf(x->f.location[0], sizeof(x->f.location[0]), "%s", LINK);
    x->f.status_override[1] = 302;
    snprintf(x->f.location[1], sizeof(x->f.location[1]), "https://elsewhere.test/x");
    start(x);
    paku_ota_result_t r;
    (void)paku_ota_check_and_update(x->h, &r);
    assert_int_not_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->f.download_calls, 2);
    assert_non_null(strstr(r.reason, "redirected again"));
}

static void a_redirect_from_https_to_plain_http_is_refused(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 302;
    snprintf(x->f.location[0], sizeof(x->f.location[0]), "http://files.test/fw/ab/abcd");
    start(x);
    paku_ota_result_t r;
    (void)paku_ota_check_and_update(x->h, &r);
    assert_int_not_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->f.download_calls, 1);
    assert_non_null(strstr(r.reason, "plain http"));
}

static void resume_lowered_by_the_port_within_a_call_rehashes_what_it_keeps(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.drop_after[0] = 100000;
    x->f.resume_align = 4096; /* e.g. flash encryption or a sector boundary */
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(x->f.range_start[1], 98304);
    assert_int_equal(r.resumed_at, 98304);
    /* the hash no longer matches what the port keeps: read back and re-hashed */
    assert_int_equal(x->f.read_bytes, 98304);
    assert_flash_holds_image(x);
}

static void resume_after_reboot_rehashes_flash_and_continues(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.drop_after[0] = 150000;
    x->cfg.max_attempts = 1;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_HTTP_TRANSPORT);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_HTTP_ERROR);
    assert_int_equal(x->f.st.resume_offset, 150000);
    assert_string_equal(x->f.st.target_version, "1.1.0");
    assert_string_equal(x->f.st.expected_sha256, x->sha);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 0); /* a drop is not a failure */
    assert_true(r.next_check_s >= PAKU_OTA_NEXT_CHECK_MIN_S);

    fake_power_cycle(&x->f);
    x->cfg.max_attempts = 4;
    start(x); /* a fresh handle: nothing kept in memory */
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_int_equal(r.resumed_at, 150000);
    assert_true(x->f.had_range[1]);
    assert_int_equal(x->f.range_start[1], 150000);
    assert_int_equal(x->f.read_bytes, 150000);
    assert_flash_holds_image(x);
}

static void saved_partial_image_of_another_release_is_not_resumed(void **state)
{
    fx_t *x = *state;
    x->f.st.resume_offset = 1000;
    x->f.st.image_size = x->f.image_len;
    strcpy(x->f.st.target_version, "1.1.0");
    strcpy(x->f.st.expected_sha256, x->other_sha); /* same version, other bytes */
    x->f.cursor = 1000;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_false(x->f.had_range[0]);
    assert_int_equal(r.resumed_at, 0);
    assert_int_equal(x->f.read_bytes, 0);
    assert_flash_holds_image(x);
}

static void server_ignoring_range_restarts_from_zero(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.ignore_range = true;
    x->f.drop_after[0] = 50000;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_true(x->f.had_range[1]);     /* it asked for the range ... */
    assert_int_equal(x->f.begin_calls, 2); /* ... got 200 and began anew */
    assert_flash_holds_image(x);
}

static void wrong_content_range_restarts_from_zero(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.bad_content_range = true;
    x->f.drop_after[0] = 50000;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.download_calls, 3);
    assert_true(x->f.had_range[1]);
    assert_false(x->f.had_range[2]);
    assert_flash_holds_image(x);
}

static void unsatisfiable_range_restarts_from_zero(void **state)
{
    fx_t *x = *state;
    x->f.st.resume_offset = 4096;
    x->f.st.image_size = x->f.image_len;
    strcpy(x->f.st.target_version, "1.1.0");
    strcpy(x->f.st.expected_sha256, x->sha);
    memcpy(x->f.flash, x->f.image, 4096);
    x->f.cursor = 4096;
    x->f.status_override[0] = 416;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_true(x->f.had_range[0]);
    assert_false(x->f.had_range[1]);
    assert_flash_holds_image(x);
}

static void changed_image_on_resume_fails_and_forgets_the_partial(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    snprintf(x->f.etag, sizeof(x->f.etag), "\"%s\"", x->other_sha);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_RESPONSE_MISMATCH);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_FAILED);
    assert_non_null(strstr(r.reason, "ETag"));
    assert_string_equal(x->f.boot_version, "");
    assert_string_equal(x->f.st.target_version, "");
    assert_int_equal(x->f.st.resume_offset, 0);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
}

static void matching_etag_and_checksum_headers_are_accepted(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    snprintf(x->f.etag, sizeof(x->f.etag), "\"%s\"", x->sha);
    snprintf(x->f.xsha, sizeof(x->f.xsha), "%s", x->sha);
    for (char *p = x->f.xsha; *p; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A'); /* case does not matter */
        }
    }
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
}

static void checksum_mismatch_is_refused_reported_and_not_fetched_again(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->other_sha, NULL, NULL, false); /* announces other bytes */
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_non_null(strstr(r.reason, "sha256 mismatch"));
    assert_string_equal(x->f.boot_version, "");
    assert_int_equal(x->f.finish_calls, 0);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
    assert_int_equal(fake_count_posts(&x->f, "success"), 0);
    assert_int_equal(r.next_check_s, 1800); /* refusals keep the server's pace */

    int downloads = x->f.download_calls;
    int posts = x->f.n_posts;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(x->f.download_calls, downloads);
    assert_int_equal(x->f.n_posts, posts);
}

static void unsigned_release_is_refused_when_a_key_is_configured(void **state)
{
    fx_t *x = *state;
    use_key(x, "rsa.pub.pem");
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_SIGNATURE_MISSING);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_int_equal(x->f.download_calls, 0);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
    assert_non_null(strstr(x->f.posts[0].error, "unsigned"));
}

static void rsa_signed_release_is_installed(void **state)
{
    fx_t *x = *state;
    use_key(x, "rsa.pub.pem");
    offer(x, "1.1.0", x->sha, "fw.rsa.sig", "rsa-pkcs1v15-sha256", false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
    assert_string_equal(x->f.boot_version, "1.1.0");
}

static void ecdsa_signed_release_is_installed(void **state)
{
    fx_t *x = *state;
    use_key(x, "ec.pub.pem");
    offer(x, "1.1.0", x->sha, "fw.ec.sig", "ecdsa-p256-sha256", false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
}

static void bad_signature_is_refused_and_the_old_version_keeps_running(void **state)
{
    fx_t *x = *state;
    use_key(x, "rsa.pub.pem");
    offer(x, "1.1.0", x->sha, "fw.other-rsa.sig", "rsa-pkcs1v15-sha256", false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_string_equal(r.reason, "signature does not verify");
    assert_string_equal(x->f.boot_version, "");
    assert_false(x->f.st.pending_confirm);
    paku_ota_restart(x->h);
    assert_string_equal(x->f.running, "1.0.0");
    int failed = -1;
    for (int i = 0; i < x->f.n_posts; i++) {
        if (strcmp(x->f.posts[i].status, "failed") == 0) {
            failed = i;
        }
    }
    assert_true(failed >= 0);
    assert_string_equal(x->f.posts[failed].error, "signature does not verify");
}

static void signature_of_the_wrong_algorithm_is_refused_before_download(void **state)
{
    fx_t *x = *state;
    use_key(x, "rsa.pub.pem");
    offer(x, "1.1.0", x->sha, "fw.ec.sig", "ecdsa-p256-sha256", false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_int_equal(x->f.download_calls, 0);
}

static void downgrade_needs_both_rollback_mark_and_permission(void **state)
{
    fx_t *x = *state;
    strcpy(x->f.running, "1.2.0");
    const struct {
        bool rollback;
        bool allow;
        paku_ota_err_t want;
    } cases[] = {
        {false, false, PAKU_OTA_ERR_DOWNGRADE_REFUSED},
        {true, false, PAKU_OTA_ERR_DOWNGRADE_REFUSED},
        {false, true, PAKU_OTA_ERR_DOWNGRADE_REFUSED},
        {true, true, PAKU_OTA_OK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        x->f.n_replies = 0;
        x->f.check_calls = 0;
        x->f.download_calls = 0;
        x->f.n_posts = 0;
        x->cfg.allow_downgrade = cases[i].allow;
        offer(x, "1.1.0", x->sha, NULL, NULL, cases[i].rollback);
        start(x);
        paku_ota_result_t r;
        assert_int_equal(paku_ota_check_and_update(x->h, &r), cases[i].want);
        if (cases[i].want == PAKU_OTA_OK) {
            assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UPDATED);
            assert_string_equal(x->f.boot_version, "1.1.0");
        } else {
            assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
            assert_int_equal(x->f.download_calls, 0);
            assert_non_null(strstr(r.reason, "downgrade from 1.2.0 to 1.1.0 refused"));
            assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
        }
    }
}

static void same_version_offer_is_refused(void **state)
{
    fx_t *x = *state;
    offer(x, "v1.0.0+other.build", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_SAME_VERSION);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_int_equal(x->f.download_calls, 0);
}

static void long_retry_after_ends_the_call_and_sets_the_next_check(void **state)
{
    fx_t *x = *state;
    fake_reply(&x->f, 429, "{\"title\":\"Too Many Requests\",\"status\":429}", "600");
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_RATE_LIMITED);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_HTTP_ERROR);
    assert_int_equal(r.http_status, 429);
    assert_int_equal(r.retry_after_s, 600);
    assert_int_equal(r.next_check_s, 600);
    assert_int_equal(x->f.check_calls, 1);
    assert_int_equal(x->f.n_sleeps, 0);
}

static void short_retry_after_is_waited_out_within_the_call(void **state)
{
    fx_t *x = *state;
    fake_reply(&x->f, 503, "{\"title\":\"Service Unavailable\",\"status\":503}", "5");
    no_offer(x, 700);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UP_TO_DATE);
    assert_int_equal(x->f.n_sleeps, 1);
    assert_int_equal(x->f.sleeps[0], 5000);
    assert_int_equal(r.next_check_s, 700);
}

static void retry_after_during_download_is_honoured(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 503;
    strcpy(x->f.retry_after, "7");
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.sleeps[0], 7000);
    assert_flash_holds_image(x);
}

static void unreachable_server_is_retried_with_bounded_backoff(void **state)
{
    fx_t *x = *state;
    x->f.unreachable = true;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_HTTP_TRANSPORT);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_HTTP_ERROR);
    assert_int_equal(x->f.n_sleeps, (int)x->cfg.max_attempts - 1);
    for (int i = 0; i < x->f.n_sleeps; i++) {
        assert_true(x->f.sleeps[i] <=
                    paku_ota_backoff_ceiling_ms((uint32_t)i, x->cfg.retry_base_ms,
                                                x->cfg.retry_max_ms));
    }
    /* Between cycles: at least the floor, never beyond the check interval. */
    for (int cycle = 0; cycle < 12; cycle++) {
        assert_true(r.next_check_s >= PAKU_OTA_NEXT_CHECK_MIN_S);
        assert_true(r.next_check_s <= x->cfg.check_interval_s);
        (void)paku_ota_check_and_update(x->h, &r);
    }
}

static void server_error_on_download_is_retried(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 500;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.download_calls, 2);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 0);
}

static void client_error_on_download_fails_without_retry(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.status_override[0] = 403;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_HTTP_STATUS);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_HTTP_ERROR);
    assert_int_equal(r.http_status, 403);
    assert_int_equal(x->f.download_calls, 1);
}

static void image_larger_than_the_partition_is_refused(void **state)
{
    fx_t *x = *state;
    x->f.capacity = 1000;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_IMAGE_TOO_LARGE);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_int_equal(x->f.download_calls, 0);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
}

static void malformed_check_response_fails_without_downloading(void **state)
{
    fx_t *x = *state;
    fake_reply(&x->f, 200, "{\"update_available\":\"yes\"}", NULL);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_JSON_WRONG_TYPE);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_FAILED);
    assert_non_null(strstr(r.reason, "update_available"));
    assert_int_equal(x->f.download_calls, 0);
    assert_int_equal(x->f.check_calls, 1); /* not retried: it would say the same */
}

static void platform_rejecting_the_image_fails_it(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    x->f.fail_finish = true;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_PARTITION);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_FAILED);
    assert_string_equal(x->f.boot_version, "");
    assert_false(x->f.st.pending_confirm);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
}

static void bounded_range_requests_cover_the_image(void **state)
{
    fx_t *x = *state;
    x->cfg.range_request_size = 65536;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    int expected = (int)((x->f.image_len + 65535) / 65536);
    assert_int_equal(x->f.download_calls, expected);
    for (int i = 0; i < expected; i++) {
        assert_true(x->f.had_range[i]);
        assert_int_equal(x->f.range_start[i], (uint64_t)i * 65536);
        if (i + 1 < expected) {
            assert_int_equal(x->f.range_end[i], (uint64_t)i * 65536 + 65535);
        }
    }
    assert_flash_holds_image(x);
}

static void new_image_is_confirmed_after_reboot(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    no_offer(x, 1200);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    paku_ota_restart(x->h);
    assert_string_equal(x->f.running, "1.1.0");
    assert_true(x->f.pending_verify);
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_CONFIRMED);
    assert_string_equal(r.to_version, "1.1.0");
    assert_int_equal(r.next_check_s, 1200);
    assert_non_null(strstr(x->f.last_check_url, "current_version=1.1.0"));
    assert_int_equal(x->f.mark_valid_calls, 1);
    assert_int_equal(x->f.mark_invalid_calls, 0);
    assert_false(x->f.st.pending_confirm);
    /* nothing more to confirm */
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_NONE);
    assert_int_equal(x->f.mark_valid_calls, 1);
}

static void image_that_cannot_check_in_is_rolled_back(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    paku_ota_restart(x->h);
    x->f.unreachable = true;
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_ERR_CONFIRM_FAILED);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_FAILED);
    assert_int_equal(x->f.mark_invalid_calls, 1);
    assert_int_equal(x->f.mark_valid_calls, 0);
    assert_string_equal(x->f.running, "1.0.0");
    assert_false(x->f.st.pending_confirm);
    /* back-off between the check-in attempts, then the `failed` report after
     * the rollback is tried three times (two back-offs) */
    assert_int_equal(x->f.n_sleeps, (int)x->cfg.confirm_attempts - 1 + 2);
}

static void busy_server_still_counts_as_reachable_for_confirmation(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    fake_reply(&x->f, 503, "{}", "1");
    install_and_reboot(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_CONFIRMED);
    assert_int_equal(x->f.mark_valid_calls, 1);
    assert_int_equal(x->f.mark_invalid_calls, 0);
}

static void bootloader_rollback_is_reported_as_failed(void **state)
{
    fx_t *x = *state;
    x->f.st.pending_confirm = true;
    strcpy(x->f.st.target_version, "1.1.0");
    strcpy(x->f.st.previous_version, "1.0.0");
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_ERR_ROLLED_BACK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_FAILED);
    assert_int_equal(x->f.n_posts, 1);
    assert_string_equal(x->f.posts[0].status, "failed");
    assert_string_equal(x->f.posts[0].version, "1.1.0");
    assert_non_null(strstr(x->f.posts[0].error, "rolled back to 1.0.0"));
    assert_false(x->f.st.pending_confirm);
    assert_int_equal(x->f.check_calls, 0);
}

static void check_settles_a_pending_image_before_looking_for_updates(void **state)
{
    fx_t *x = *state;
    strcpy(x->f.running, "1.1.0");
    x->f.pending_verify = true;
    x->f.st.pending_confirm = true;
    strcpy(x->f.st.target_version, "1.1.0");
    no_offer(x, 3000);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.mark_valid_calls, 1);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_UP_TO_DATE);
}

static void withdrawn_offer_discards_the_partial_download(void **state)
{
    fx_t *x = *state;
    x->f.st.resume_offset = 1000;
    x->f.st.image_size = x->f.image_len;
    strcpy(x->f.st.target_version, "1.1.0");
    strcpy(x->f.st.expected_sha256, x->sha);
    no_offer(x, 3000);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_string_equal(x->f.st.target_version, "");
    assert_int_equal(x->f.st.resume_offset, 0);
}

static void one_download_request_reports_only_its_start_and_end(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_false(x->f.had_range[0]);
    assert_int_equal(x->f.nested, 0);
    assert_int_equal(x->f.handshakes, 1);
    assert_int_equal(fake_count_posts(&x->f, "downloading"), 2);
    assert_int_equal(x->f.posts[0].progress, 0);
    assert_int_equal(x->f.posts[1].progress, 100);
}

static void each_public_call_uses_one_connection_and_closes_it(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    no_offer(x, 1200);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.handshakes, 1);
    paku_ota_restart(x->h);
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(x->f.handshakes, 2);
    assert_false(x->f.connected);
}

static void server_errors_in_the_confirm_window_keep_a_good_image(void **state)
{
    static const int statuses[] = {500, 502, 504, 404, 401};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        fx_t *x = *state;
        fresh_fake(x);
        offer(x, "1.1.0", x->sha, NULL, NULL, false);
        fake_reply(&x->f, statuses[i], "{\"title\":\"oops\"}", NULL);
        install_and_reboot(x);
        paku_ota_result_t r;
        assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
        assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_CONFIRMED);
        assert_int_equal(x->f.mark_valid_calls, 1);
        assert_int_equal(x->f.mark_invalid_calls, 0);
        assert_string_equal(x->f.running, "1.1.0");
        assert_false(x->f.st.pending_confirm);
        assert_int_equal(x->f.check_calls, 2); /* the first answer settles it */
    }
}

static void transport_failures_then_an_answer_confirm_within_the_window(void **state)
{
    fx_t *x = *state;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    fake_reply(&x->f, 0, NULL, NULL); /* no answer */
    fake_reply(&x->f, 0, NULL, NULL);
    fake_reply(&x->f, 502, "bad gateway", NULL);
    install_and_reboot(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_confirm_boot(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_CONFIRMED);
    assert_int_equal(x->f.mark_invalid_calls, 0);
    assert_int_equal(x->f.check_calls, 4);
}

static void platform_refusals_are_remembered_and_reported_once(void **state)
{
    fx_t *x = *state;
    for (int which = 0; which < 2; which++) {
        fresh_fake(x);
        offer(x, "1.1.0", x->sha, NULL, NULL, false);
        x->f.fail_finish = which == 0;
        x->f.fail_set_boot = which == 1;
        start(x);
        paku_ota_result_t r;
        for (int cycle = 0; cycle < 3; cycle++) {
            assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_PARTITION);
            assert_non_null(strstr(r.reason, which == 0 ? "esp_ota_end"
                                                        : "esp_ota_set_boot_partition"));
        }
        assert_int_equal(x->f.download_calls, 1);
        assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
        assert_int_equal(x->f.posts[x->f.n_posts - 1].has_error, true);
        assert_string_equal(x->f.boot_version, "");
        assert_false(x->f.st.pending_confirm);
        assert_int_equal(x->f.check_calls, 3);
    }
}

static void refusals_by_the_rules_are_reported_once(void **state)
{
    fx_t *x = *state;
    offer(x, "0.9.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    for (int cycle = 0; cycle < 3; cycle++) {
        assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_DOWNGRADE_REFUSED);
    }
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
    assert_int_equal(x->f.download_calls, 0);
}

static void secure_version_below_the_chip_minimum_stops_at_the_header(void **state)
{
    fx_t *x = *state;
    char sha[65];
    stamp(x, "1.1.0", "thermostat", 1, sha);
    x->f.anti_rollback = true;
    x->f.min_secure_version = 2;
    offer(x, "1.1.0", sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_SECURE_VERSION);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_non_null(strstr(r.reason, "secure_version 1"));
    assert_int_equal(x->f.max_written, 0); /* judged before the first write */
    assert_int_equal(x->f.finish_calls, 0);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_SECURE_VERSION);
    assert_int_equal(x->f.download_calls, 1);
    assert_int_equal(fake_count_posts(&x->f, "failed"), 1);
}

static void image_description_must_name_the_offered_version_and_project(void **state)
{
    fx_t *x = *state;
    char sha[65];
    x->cfg.verify_app_desc = true;
    strcpy(x->f.project, "thermostat");

    /* an older image, properly hashed, offered under a newer label */
    stamp(x, "0.9.0", "thermostat", 0, sha);
    offer(x, "1.1.0", sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_IMAGE_DESC);
    assert_int_equal(r.outcome, PAKU_OTA_OUTCOME_REFUSED);
    assert_non_null(strstr(r.reason, "0.9.0"));
    assert_string_equal(x->f.boot_version, "");

    /* another project's firmware */
    x->f.n_replies = 0;
    x->f.check_calls = 0;
    stamp(x, "1.1.0", "doorbell", 0, sha);
    offer(x, "1.1.0", sha, NULL, NULL, false);
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_IMAGE_DESC);
    assert_non_null(strstr(r.reason, "doorbell"));

    /* not an app image at all */
    x->f.n_replies = 0;
    x->f.check_calls = 0;
    x->f.image = x->image;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    if (x->image[0] != PAKU_OTA_IMAGE_MAGIC) {
        assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_IMAGE_DESC);
        assert_non_null(strstr(r.reason, "not an ESP app image"));
    }

    /* "v1.1.0" as ESP-IDF's PROJECT_VER often is: equal to the offer */
    x->f.n_replies = 0;
    x->f.check_calls = 0;
    stamp(x, "v1.1.0", "thermostat", 0, sha);
    offer(x, "1.1.0", sha, NULL, NULL, false);
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_string_equal(x->f.boot_version, "1.1.0");
    assert_int_equal(fake_count_posts(&x->f, "failed"), x->image[0] == PAKU_OTA_IMAGE_MAGIC ? 2 : 3);
}

static void image_description_is_checked_again_on_resume_after_reboot(void **state)
{
    fx_t *x = *state;
    char sha[65];
    x->cfg.verify_app_desc = true;
    stamp(x, "1.1.0", "thermostat", 0, sha);
    offer(x, "1.1.0", sha, NULL, NULL, false);
    x->f.drop_after[0] = 50000;
    x->cfg.max_attempts = 1;
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_HTTP_TRANSPORT);
    fake_power_cycle(&x->f);
    /* the partial image on flash now claims another project */
    memcpy(x->f.flash + PAKU_OTA_APP_DESC_OFFSET + 48, "doorbell\0", 9);
    strcpy(x->f.project, "thermostat");
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_ERR_IMAGE_DESC);
    assert_string_equal(x->f.boot_version, "");
}

static void transport_security_is_settled_at_create(void **state)
{
    fx_t *x = *state;
    paku_ota_handle_t h = NULL;
    paku_ota_port_t port = x->f.port;
    paku_ota_config_t c = x->cfg;
    port.flags = PAKU_OTA_PORT_TLS_FROM_CONFIG;

    c.ca_cert_pem = NULL;
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_ERR_CONFIG);
    c.use_cert_bundle = true; /* but the port has no bundle */
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_ERR_CONFIG);
    port.flags |= PAKU_OTA_PORT_HAS_CERT_BUNDLE;
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_OK);
    paku_ota_destroy(h);
    h = NULL;
    c.use_cert_bundle = false;
    c.ca_cert_pem = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_OK);
    paku_ota_destroy(h);
    h = NULL;

    c.server_url = "http://ota.test:8080";
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_ERR_CONFIG);
    assert_null(h);
    c.allow_plain_http = true;
    assert_int_equal(paku_ota_create(&c, &port, &h), PAKU_OTA_OK);
    paku_ota_destroy(h);
}

static void numbers_print_without_64_bit_printf(void **state)
{
    (void)state;
    char buf[PAKU_OTA_U64_STR_SIZE];
    assert_string_equal(paku_ota_u64_str(0, buf), "0");
    assert_string_equal(paku_ota_u64_str(400000, buf), "400000");
    assert_string_equal(paku_ota_u64_str(UINT64_MAX, buf), "18446744073709551615");
}

static void bad_configurations_are_refused_at_create(void **state)
{
    fx_t *x = *state;
    paku_ota_handle_t h = NULL;
    paku_ota_config_t c = x->cfg;
    c.server_url = "ftp://x";
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    c = x->cfg;
    c.device_id = "";
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    c = x->cfg;
    c.device_id = "has space";
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    c = x->cfg;
    c.running_version = "1.0";
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    c = x->cfg;
    c.signing_pubkey_pem = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n";
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    c = x->cfg;
    c.buffer_size = 16;
    assert_int_equal(paku_ota_create(&c, &x->f.port, &h), PAKU_OTA_ERR_CONFIG);
    paku_ota_port_t broken = x->f.port;
    broken.part_read = NULL;
    assert_int_equal(paku_ota_create(&x->cfg, &broken, &h), PAKU_OTA_ERR_INVALID_ARG);
    assert_null(h);
    assert_int_equal(paku_ota_check_and_update(NULL, NULL), PAKU_OTA_ERR_INVALID_ARG);
}

typedef struct {
    int calls;
    paku_ota_status_t last;
    char version[32];
} cb_seen_t;

static void on_status(paku_ota_status_t status, const char *version, int progress,
                      const char *reason, void *user)
{
    cb_seen_t *seen = user;
    (void)progress;
    (void)reason;
    seen->calls++;
    seen->last = status;
    snprintf(seen->version, sizeof(seen->version), "%s", version);
}

static void status_callback_sees_every_report(void **state)
{
    fx_t *x = *state;
    cb_seen_t seen = {0};
    x->cfg.status_cb = on_status;
    x->cfg.status_cb_user = &seen;
    offer(x, "1.1.0", x->sha, NULL, NULL, false);
    start(x);
    paku_ota_result_t r;
    assert_int_equal(paku_ota_check_and_update(x->h, &r), PAKU_OTA_OK);
    assert_int_equal(seen.calls, x->f.n_posts);
    assert_int_equal(seen.last, PAKU_OTA_STATUS_SUCCESS);
    assert_string_equal(seen.version, "1.1.0");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_client FIXTURE_DIR\n");
        return 2;
    }
    g_fixture_dir = argv[1];
    paku_ota_host_log_level = 1;
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(up_to_date_reports_nothing_and_keeps_the_server_pace),
        T(update_streams_verifies_sets_boot_and_reports_in_order),
        T(dropped_connection_resumes_with_range_from_the_bytes_written),
        T(offloaded_download_follows_the_redirect_and_asks_the_service_again_when_the_link_expired),
        T(a_download_link_that_redirects_again_is_not_followed),
        T(a_redirect_from_https_to_plain_http_is_refused),
        T(resume_lowered_by_the_port_within_a_call_rehashes_what_it_keeps),
        T(resume_after_reboot_rehashes_flash_and_continues),
        T(saved_partial_image_of_another_release_is_not_resumed),
        T(server_ignoring_range_restarts_from_zero),
        T(wrong_content_range_restarts_from_zero),
        T(unsatisfiable_range_restarts_from_zero),
        T(changed_image_on_resume_fails_and_forgets_the_partial),
        T(matching_etag_and_checksum_headers_are_accepted),
        T(checksum_mismatch_is_refused_reported_and_not_fetched_again),
        T(unsigned_release_is_refused_when_a_key_is_configured),
        T(rsa_signed_release_is_installed),
        T(ecdsa_signed_release_is_installed),
        T(bad_signature_is_refused_and_the_old_version_keeps_running),
        T(signature_of_the_wrong_algorithm_is_refused_before_download),
        T(downgrade_needs_both_rollback_mark_and_permission),
        T(same_version_offer_is_refused),
        T(long_retry_after_ends_the_call_and_sets_the_next_check),
        T(short_retry_after_is_waited_out_within_the_call),
        T(retry_after_during_download_is_honoured),
        T(unreachable_server_is_retried_with_bounded_backoff),
        T(server_error_on_download_is_retried),
        T(client_error_on_download_fails_without_retry),
        T(image_larger_than_the_partition_is_refused),
        T(malformed_check_response_fails_without_downloading),
        T(platform_rejecting_the_image_fails_it),
        T(bounded_range_requests_cover_the_image),
        T(new_image_is_confirmed_after_reboot),
        T(image_that_cannot_check_in_is_rolled_back),
        T(busy_server_still_counts_as_reachable_for_confirmation),
        T(bootloader_rollback_is_reported_as_failed),
        T(check_settles_a_pending_image_before_looking_for_updates),
        T(withdrawn_offer_discards_the_partial_download),
        T(one_download_request_reports_only_its_start_and_end),
        T(each_public_call_uses_one_connection_and_closes_it),
        T(server_errors_in_the_confirm_window_keep_a_good_image),
        T(transport_failures_then_an_answer_confirm_within_the_window),
        T(platform_refusals_are_remembered_and_reported_once),
        T(refusals_by_the_rules_are_reported_once),
        T(secure_version_below_the_chip_minimum_stops_at_the_header),
        T(image_description_must_name_the_offered_version_and_project),
        T(image_description_is_checked_again_on_resume_after_reboot),
        T(transport_security_is_settled_at_create),
        T(numbers_print_without_64_bit_printf),
        T(bad_configurations_are_refused_at_create),
        T(status_callback_sees_every_report),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
