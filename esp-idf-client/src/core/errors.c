/* Names of error codes and outcomes, and which outcome an error means. */
#include "paku_ota_internal.h"

const char *paku_ota_err_to_name(paku_ota_err_t err)
{
    switch (err) {
#define NAME(code) \
    case code:     \
        return #code
        NAME(PAKU_OTA_OK);
        NAME(PAKU_OTA_ERR_INVALID_ARG);
        NAME(PAKU_OTA_ERR_NO_MEM);
        NAME(PAKU_OTA_ERR_INVALID_VERSION);
        NAME(PAKU_OTA_ERR_CONFIG);
        NAME(PAKU_OTA_ERR_NOT_SUPPORTED);
        NAME(PAKU_OTA_ERR_BUFFER_TOO_SMALL);
        NAME(PAKU_OTA_ERR_JSON_SYNTAX);
        NAME(PAKU_OTA_ERR_JSON_MISSING_FIELD);
        NAME(PAKU_OTA_ERR_JSON_WRONG_TYPE);
        NAME(PAKU_OTA_ERR_JSON_TOO_LONG);
        NAME(PAKU_OTA_ERR_BAD_CHECKSUM_FORMAT);
        NAME(PAKU_OTA_ERR_BAD_SIZE);
        NAME(PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT);
        NAME(PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM);
        NAME(PAKU_OTA_ERR_BAD_URL);
        NAME(PAKU_OTA_ERR_RESPONSE_TOO_LARGE);
        NAME(PAKU_OTA_ERR_INCONSISTENT_RESPONSE);
        NAME(PAKU_OTA_ERR_HTTP_TRANSPORT);
        NAME(PAKU_OTA_ERR_HTTP_STATUS);
        NAME(PAKU_OTA_ERR_RATE_LIMITED);
        NAME(PAKU_OTA_ERR_RESPONSE_MISMATCH);
        NAME(PAKU_OTA_ERR_ABORTED);
        NAME(PAKU_OTA_ERR_DOWNGRADE_REFUSED);
        NAME(PAKU_OTA_ERR_SAME_VERSION);
        NAME(PAKU_OTA_ERR_CHECKSUM_MISMATCH);
        NAME(PAKU_OTA_ERR_SIGNATURE_INVALID);
        NAME(PAKU_OTA_ERR_SIGNATURE_MISSING);
        NAME(PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH);
        NAME(PAKU_OTA_ERR_IMAGE_TOO_LARGE);
        NAME(PAKU_OTA_ERR_IMAGE_DESC);
        NAME(PAKU_OTA_ERR_SECURE_VERSION);
        NAME(PAKU_OTA_ERR_PARTITION);
        NAME(PAKU_OTA_ERR_STATE);
        NAME(PAKU_OTA_ERR_CRYPTO);
        NAME(PAKU_OTA_ERR_ROLLED_BACK);
        NAME(PAKU_OTA_ERR_CONFIRM_FAILED);
#undef NAME
    default:
        return "PAKU_OTA_ERR_UNKNOWN";
    }
}

const char *paku_ota_outcome_to_name(paku_ota_outcome_t outcome)
{
    switch (outcome) {
    case PAKU_OTA_OUTCOME_NONE:
        return "none";
    case PAKU_OTA_OUTCOME_UP_TO_DATE:
        return "up-to-date";
    case PAKU_OTA_OUTCOME_UPDATED:
        return "updated";
    case PAKU_OTA_OUTCOME_CONFIRMED:
        return "confirmed";
    case PAKU_OTA_OUTCOME_REFUSED:
        return "refused";
    case PAKU_OTA_OUTCOME_FAILED:
        return "failed";
    case PAKU_OTA_OUTCOME_HTTP_ERROR:
        return "http-error";
    }
    return "unknown";
}

paku_ota_outcome_t paku_ota_outcome_for_err(paku_ota_err_t err)
{
    switch (err) {
    case PAKU_OTA_OK:
        return PAKU_OTA_OUTCOME_NONE;
    /* The offer itself is unacceptable: keep running what we run. */
    case PAKU_OTA_ERR_DOWNGRADE_REFUSED:
    case PAKU_OTA_ERR_SAME_VERSION:
    case PAKU_OTA_ERR_CHECKSUM_MISMATCH:
    case PAKU_OTA_ERR_SIGNATURE_INVALID:
    case PAKU_OTA_ERR_SIGNATURE_MISSING:
    case PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH:
    case PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM:
    case PAKU_OTA_ERR_IMAGE_TOO_LARGE:
    case PAKU_OTA_ERR_IMAGE_DESC:
    case PAKU_OTA_ERR_SECURE_VERSION:
        return PAKU_OTA_OUTCOME_REFUSED;
    /* Talking to the server did not work. */
    case PAKU_OTA_ERR_HTTP_TRANSPORT:
    case PAKU_OTA_ERR_HTTP_STATUS:
    case PAKU_OTA_ERR_RATE_LIMITED:
        return PAKU_OTA_OUTCOME_HTTP_ERROR;
    default:
        return PAKU_OTA_OUTCOME_FAILED;
    }
}

#if !defined(ESP_PLATFORM)
/* Host log verbosity (see paku_ota_log.h); ports and tools may change it. */
int paku_ota_host_log_level = 3;
#endif
