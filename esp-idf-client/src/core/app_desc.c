/*
 * The image's own description, read from its first bytes. It is inside the
 * signed and hashed image, so once the image verified, what it says about
 * itself is as trustworthy as the image; before that it lets the client stop
 * a download that could never be installed (wrong project, wrong version,
 * secure_version below the chip's anti-rollback) after a few hundred bytes.
 */
#include <string.h>

#include "paku_ota_internal.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* A char[32] field that need not be terminated; printable ASCII only. */
static bool copy_field(const uint8_t *field, char out[33])
{
    size_t n = 0;
    while (n < 32 && field[n] != 0) {
        if (field[n] < 0x20 || field[n] >= 0x7F) {
            return false;
        }
        out[n] = (char)field[n];
        n++;
    }
    out[n] = '\0';
    return true;
}

paku_ota_err_t paku_ota_app_desc_parse(const uint8_t *head, size_t len, paku_ota_app_desc_t *out)
{
    if (head == NULL || out == NULL) {
        return PAKU_OTA_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof(*out));
    if (len < PAKU_OTA_APP_DESC_HEAD || head[0] != PAKU_OTA_IMAGE_MAGIC) {
        return PAKU_OTA_ERR_IMAGE_DESC;
    }
    const uint8_t *d = head + PAKU_OTA_APP_DESC_OFFSET;
    if (le32(d) != PAKU_OTA_APP_DESC_MAGIC) {
        return PAKU_OTA_ERR_IMAGE_DESC;
    }
    out->secure_version = le32(d + 4);
    if (!copy_field(d + 16, out->version) || !copy_field(d + 48, out->project_name)) {
        memset(out, 0, sizeof(*out));
        return PAKU_OTA_ERR_IMAGE_DESC;
    }
    return PAKU_OTA_OK;
}
