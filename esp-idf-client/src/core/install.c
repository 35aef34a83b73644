/*
 * From an offer to a bootable slot: vet the offer, download it, verify its
 * SHA-256 and signature, let the platform validate it, set it to boot. Every
 * definitive refusal (by the rules, by verification, by the platform) is
 * remembered by the image's SHA-256 and reported once: the same bytes are not
 * fetched again every cycle.
 */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "paku_ota_log.h"

static const char *TAG = "paku_ota";

bool paku_ota_client_is_refusal(paku_ota_err_t err)
{
    return paku_ota_outcome_for_err(err) == PAKU_OTA_OUTCOME_REFUSED;
}

paku_ota_err_t paku_ota_client_version_allowed(paku_ota_handle_t h, const char *version,
                                               paku_ota_result_t *res)
{
    const paku_ota_check_response_t *o = &h->offer;
    int cmp = 0;
    if (paku_ota_version_compare(version, h->running, &cmp) != PAKU_OTA_OK) {
        (void)snprintf(res->reason, sizeof(res->reason), "offered version %.100s is not SemVer",
                       version);
        return PAKU_OTA_ERR_INVALID_VERSION;
    }
    if (cmp == 0) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "offered version %.50s equals the running version %.50s", version,
                       h->running);
        return PAKU_OTA_ERR_SAME_VERSION;
    }
    if (cmp < 0 && !(o->is_rollback && h->cfg.allow_downgrade)) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "downgrade from %.40s to %.40s refused (is_rollback=%s, allow_downgrade=%s)",
                       h->running, version, o->is_rollback ? "true" : "false",
                       h->cfg.allow_downgrade ? "true" : "false");
        return PAKU_OTA_ERR_DOWNGRADE_REFUSED;
    }
    return PAKU_OTA_OK;
}

static void algorithm_mismatch(paku_ota_handle_t h, paku_ota_result_t *res)
{
    (void)snprintf(res->reason, sizeof(res->reason), "release signed with %s but the signing key is %s",
                   paku_ota_sig_alg_name(h->offer.signature_algorithm),
                   paku_ota_sigkey_kind_name(h->sigkey));
}

/* Refuse (before any byte is fetched) what can never be installed. */
static paku_ota_err_t vet_offer(paku_ota_handle_t h, paku_ota_result_t *res)
{
    const paku_ota_check_response_t *o = &h->offer;
    paku_ota_err_t err = paku_ota_client_version_allowed(h, o->latest_version, res);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    if (h->sigkey != NULL) {
        if (o->signature_len == 0) {
            paku_ota_client_set_reason(res, "release is unsigned but a signing key is configured");
            return PAKU_OTA_ERR_SIGNATURE_MISSING;
        }
        if (!paku_ota_sigkey_accepts(h->sigkey, o->signature_algorithm)) {
            algorithm_mismatch(h, res);
            return PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH;
        }
    } else if (o->signature_len > 0) {
        PAKU_OTA_LOGW(TAG, "release is signed but no signing key is configured: not verified");
    }
    return PAKU_OTA_OK;
}

static paku_ota_err_t verify_image(paku_ota_handle_t h, paku_ota_result_t *res)
{
    const paku_ota_check_response_t *o = &h->offer;
    uint8_t digest[32];
    char hex[PAKU_OTA_SHA256_HEX_LEN + 1];
    paku_ota_err_t err = paku_ota_sha256_finish(h->sha, digest);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "hashing failed");
        return err;
    }
    paku_ota_hex_encode(digest, sizeof(digest), hex);
    if (strcmp(hex, o->checksum_sha256) != 0) {
        (void)snprintf(res->reason, sizeof(res->reason),
                       "sha256 mismatch: expected %.16s..., got %.16s...", o->checksum_sha256,
                       hex);
        return PAKU_OTA_ERR_CHECKSUM_MISMATCH;
    }
    if (h->sigkey == NULL) {
        return PAKU_OTA_OK;
    }
    err = paku_ota_sigkey_verify(h->sigkey, o->signature_algorithm, digest, o->signature,
                                 o->signature_len);
    if (err == PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH) {
        algorithm_mismatch(h, res);
    } else if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "signature does not verify");
        if (err != PAKU_OTA_ERR_CRYPTO) {
            err = PAKU_OTA_ERR_SIGNATURE_INVALID;
        }
    }
    return err;
}

static void remember_refusal(paku_ota_handle_t h, paku_ota_err_t err, const char *reason)
{
    memcpy(h->refused_sha, h->offer.checksum_sha256, sizeof(h->refused_sha));
    (void)snprintf(h->refused_reason, sizeof(h->refused_reason), "%s", reason);
    h->refused_err = err;
}

static bool refused_before(paku_ota_handle_t h)
{
    return h->refused_sha[0] != '\0' && strcmp(h->refused_sha, h->offer.checksum_sha256) == 0;
}

/* Ends an install that failed for good: the slot and the saved download are
 * dropped, the refusal remembered and reported once. */
static paku_ota_err_t give_up(paku_ota_handle_t h, paku_ota_err_t err, paku_ota_result_t *res)
{
    h->port->part_abort(h->port->ctx);
    paku_ota_client_clear_download_state(&h->st);
    h->st.pending_confirm = false;
    h->st.previous_version[0] = '\0';
    paku_ota_client_save_state(h);
    if (paku_ota_client_is_refusal(err)) {
        remember_refusal(h, err, res->reason);
    }
    paku_ota_reporter_failed(&h->rep, res->reason);
    return err;
}

/* Verify, let the platform validate, and make the slot bootable. The
 * platform's refusals are the image's fault (esp_ota_end validation, chip
 * revision, anti-rollback): remembered like a bad signature. */
static paku_ota_err_t finish_install(paku_ota_handle_t h, paku_ota_result_t *res)
{
    paku_ota_reporter_installing(&h->rep);
    paku_ota_err_t err = verify_image(h, res);
    if (err != PAKU_OTA_OK) {
        return err;
    }
    err = h->port->part_finish(h->port->ctx);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "the platform rejected the image (esp_ota_end)");
        remember_refusal(h, PAKU_OTA_ERR_PARTITION, res->reason);
        return PAKU_OTA_ERR_PARTITION;
    }
    /* Record the pending confirmation before the slot becomes bootable, so a
     * power cut between the two still leads to a check-in after boot. */
    h->st.resume_offset = 0;
    h->st.pending_confirm = true;
    (void)paku_ota_strcpy_checked(h->st.previous_version, sizeof(h->st.previous_version),
                                  h->running);
    paku_ota_client_save_state(h);
    err = h->port->part_set_boot(h->port->ctx, h->offer.latest_version);
    if (err != PAKU_OTA_OK) {
        paku_ota_client_set_reason(res, "the platform refused to boot the image "
                                        "(esp_ota_set_boot_partition)");
        remember_refusal(h, PAKU_OTA_ERR_PARTITION, res->reason);
        return PAKU_OTA_ERR_PARTITION;
    }
    return PAKU_OTA_OK;
}

paku_ota_err_t paku_ota_client_install(paku_ota_handle_t h, paku_ota_result_t *res)
{
    const paku_ota_check_response_t *o = &h->offer;
    paku_ota_client_reports_for(h, o->latest_version);
    if (refused_before(h)) {
        /* Same bytes as last time: neither fetched nor reported again. */
        paku_ota_client_set_reason(res, h->refused_reason);
        return h->refused_err;
    }
    paku_ota_err_t err = vet_offer(h, res);
    if (err != PAKU_OTA_OK) {
        remember_refusal(h, err, res->reason);
        paku_ota_reporter_failed(&h->rep, res->reason);
        return err;
    }
    paku_ota_client_load_state(h);
    err = paku_ota_client_download(h, res);
    bool transient = err == PAKU_OTA_ERR_HTTP_TRANSPORT || err == PAKU_OTA_ERR_RATE_LIMITED ||
                     err == PAKU_OTA_ERR_HTTP_STATUS;
    if (transient) {
        return err; /* partial image and state stay for the next cycle's resume */
    }
    if (err == PAKU_OTA_OK) {
        err = finish_install(h, res);
    }
    if (err != PAKU_OTA_OK) {
        return give_up(h, err, res);
    }
    paku_ota_reporter_success(&h->rep);
    PAKU_OTA_LOGI(TAG, "installed %s; restart to run it", o->latest_version);
    return PAKU_OTA_OK;
}
