/* Streaming SHA-256 and signature verification against keys and signatures
 * made by `openssl dgst -sha256 -sign` at test time (gen-fixtures.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paku_ota_internal.h"
#include "test_util.h"

static void digest_of(const uint8_t *data, size_t len, size_t chunk, uint8_t out[32])
{
    paku_ota_sha256_t *h = paku_ota_sha256_new();
    assert_non_null(h);
    assert_int_equal(paku_ota_sha256_start(h), PAKU_OTA_OK);
    for (size_t pos = 0; pos < len; pos += chunk) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        assert_int_equal(paku_ota_sha256_update(h, data + pos, n), PAKU_OTA_OK);
    }
    assert_int_equal(paku_ota_sha256_finish(h, out), PAKU_OTA_OK);
    paku_ota_sha256_free(h);
}

static paku_ota_sigkey_t *load_key(const char *name)
{
    char *pem = (char *)fixture_read(name, NULL);
    paku_ota_sigkey_t *key = NULL;
    paku_ota_err_t err = paku_ota_sigkey_load(pem, &key);
    free(pem);
    assert_int_equal(err, PAKU_OTA_OK);
    return key;
}

static paku_ota_err_t verify_file(const char *key_name, paku_ota_sig_alg_t alg, const char *image,
                                  const char *sig_name, bool tamper_image, bool tamper_sig)
{
    size_t img_len = 0;
    size_t sig_len = 0;
    uint8_t *img = fixture_read(image, &img_len);
    uint8_t *sig = fixture_read(sig_name, &sig_len);
    if (tamper_image) {
        img[img_len / 2] ^= 0x01;
    }
    if (tamper_sig) {
        sig[sig_len / 2] ^= 0x01;
    }
    uint8_t digest[32];
    digest_of(img, img_len, 4096, digest);
    paku_ota_sigkey_t *key = load_key(key_name);
    paku_ota_err_t err = paku_ota_sigkey_verify(key, alg, digest, sig, sig_len);
    paku_ota_sigkey_free(key);
    free(img);
    free(sig);
    return err;
}

static void streaming_sha256_matches_openssl_for_any_chunking(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *img = fixture_read("fw.bin", &len);
    char *want = (char *)fixture_read("fw.sha256", NULL);
    want[64] = '\0';
    const size_t chunks[] = {1, 7, 64, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        uint8_t d[32];
        char hex[65];
        digest_of(img, len, chunks[i], d);
        paku_ota_hex_encode(d, 32, hex);
        assert_string_equal(hex, want);
    }
    free(img);
    free(want);
}

static void sha256_restart_discards_earlier_data(void **state)
{
    (void)state;
    uint8_t a[32];
    uint8_t b[32];
    digest_of((const uint8_t *)"abc", 3, 3, a);
    paku_ota_sha256_t *h = paku_ota_sha256_new();
    assert_int_equal(paku_ota_sha256_start(h), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_update(h, (const uint8_t *)"garbage", 7), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_start(h), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_update(h, (const uint8_t *)"abc", 3), PAKU_OTA_OK);
    assert_int_equal(paku_ota_sha256_finish(h, b), PAKU_OTA_OK);
    assert_memory_equal(a, b, 32);
    /* finishing twice without a start is refused, not undefined */
    assert_int_equal(paku_ota_sha256_finish(h, b), PAKU_OTA_ERR_INVALID_ARG);
    paku_ota_sha256_free(h);
}

static void valid_rsa_signature_verifies(void **state)
{
    (void)state;
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.rsa.sig", false, false),
                     PAKU_OTA_OK);
}

static void valid_ecdsa_signature_verifies(void **state)
{
    (void)state;
    assert_int_equal(verify_file("ec.pub.pem", PAKU_OTA_SIG_ECDSA_P256_SHA256, "fw.bin",
                                 "fw.ec.sig", false, false),
                     PAKU_OTA_OK);
}

static void tampered_image_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.rsa.sig", true, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(verify_file("ec.pub.pem", PAKU_OTA_SIG_ECDSA_P256_SHA256, "fw.bin",
                                 "fw.ec.sig", true, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
}

static void tampered_signature_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.rsa.sig", false, true),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(verify_file("ec.pub.pem", PAKU_OTA_SIG_ECDSA_P256_SHA256, "fw.bin",
                                 "fw.ec.sig", false, true),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
}

static void signature_from_another_key_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify_file("other-rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.rsa.sig", false, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(verify_file("other-ec.pub.pem", PAKU_OTA_SIG_ECDSA_P256_SHA256, "fw.bin",
                                 "fw.ec.sig", false, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.other-rsa.sig", false, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
}

static void signature_of_another_image_is_refused(void **state)
{
    (void)state;
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw-1.1.0.rsa.sig", false, false),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
}

static void algorithm_must_fit_the_key(void **state)
{
    (void)state;
    assert_int_equal(verify_file("rsa.pub.pem", PAKU_OTA_SIG_ECDSA_P256_SHA256, "fw.bin",
                                 "fw.ec.sig", false, false),
                     PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH);
    assert_int_equal(verify_file("ec.pub.pem", PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, "fw.bin",
                                 "fw.rsa.sig", false, false),
                     PAKU_OTA_ERR_KEY_ALGORITHM_MISMATCH);
    assert_int_equal(verify_file("ec.pub.pem", PAKU_OTA_SIG_NONE, "fw.bin", "fw.ec.sig", false,
                                 false),
                     PAKU_OTA_ERR_UNSUPPORTED_ALGORITHM);
    paku_ota_sigkey_t *rsa = load_key("rsa.pub.pem");
    paku_ota_sigkey_t *ec = load_key("ec.pub.pem");
    assert_true(paku_ota_sigkey_accepts(rsa, PAKU_OTA_SIG_RSA_PKCS1V15_SHA256));
    assert_false(paku_ota_sigkey_accepts(rsa, PAKU_OTA_SIG_ECDSA_P256_SHA256));
    assert_true(paku_ota_sigkey_accepts(ec, PAKU_OTA_SIG_ECDSA_P256_SHA256));
    assert_false(paku_ota_sigkey_accepts(ec, PAKU_OTA_SIG_NONE));
    paku_ota_sigkey_free(rsa);
    paku_ota_sigkey_free(ec);
}

static void truncated_or_empty_signatures_are_refused(void **state)
{
    (void)state;
    size_t sig_len = 0;
    uint8_t *sig = fixture_read("fw.rsa.sig", &sig_len);
    size_t img_len = 0;
    uint8_t *img = fixture_read("fw.bin", &img_len);
    uint8_t digest[32];
    digest_of(img, img_len, 4096, digest);
    paku_ota_sigkey_t *key = load_key("rsa.pub.pem");
    assert_int_equal(paku_ota_sigkey_verify(key, PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, digest, sig,
                                            sig_len - 1),
                     PAKU_OTA_ERR_SIGNATURE_INVALID);
    assert_int_equal(paku_ota_sigkey_verify(key, PAKU_OTA_SIG_RSA_PKCS1V15_SHA256, digest, sig, 0),
                     PAKU_OTA_ERR_INVALID_ARG);
    paku_ota_sigkey_free(key);
    free(sig);
    free(img);
}

static void unusable_keys_are_configuration_errors(void **state)
{
    (void)state;
    paku_ota_sigkey_t *key = NULL;
    assert_int_equal(paku_ota_sigkey_load("not a key", &key), PAKU_OTA_ERR_CONFIG);
    assert_null(key);
    assert_int_equal(paku_ota_sigkey_load("", &key), PAKU_OTA_ERR_INVALID_ARG);
    char *weak = (char *)fixture_read("rsa1024.pub.pem", NULL);
    assert_int_equal(paku_ota_sigkey_load(weak, &key), PAKU_OTA_ERR_CONFIG);
    free(weak);
    /* EC keys other than P-256 */
    char *p384 = (char *)fixture_read("ec384.pub.pem", NULL);
    assert_int_equal(paku_ota_sigkey_load(p384, &key), PAKU_OTA_ERR_CONFIG);
    free(p384);
    assert_null(key);
    /* a private key is not what the device should hold */
    char *priv = (char *)fixture_read("rsa.pem", NULL);
    assert_int_equal(paku_ota_sigkey_load(priv, &key), PAKU_OTA_ERR_CONFIG);
    free(priv);
}

static void base64_signature_round_trips(void **state)
{
    (void)state;
    size_t sig_len = 0;
    uint8_t *sig = fixture_read("fw.ec.sig", &sig_len);
    char *b64 = test_base64(sig, sig_len);
    uint8_t out[PAKU_OTA_SIGNATURE_MAX_LEN];
    size_t out_len = 0;
    assert_int_equal(paku_ota_base64_decode(b64, out, sizeof(out), &out_len), PAKU_OTA_OK);
    assert_int_equal(out_len, sig_len);
    assert_memory_equal(out, sig, sig_len);
    assert_int_equal(paku_ota_base64_decode(b64, out, 8, &out_len),
                     PAKU_OTA_ERR_BAD_SIGNATURE_FORMAT);
    free(b64);
    free(sig);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_verify FIXTURE_DIR\n");
        return 2;
    }
    g_fixture_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streaming_sha256_matches_openssl_for_any_chunking),
        cmocka_unit_test(sha256_restart_discards_earlier_data),
        cmocka_unit_test(valid_rsa_signature_verifies),
        cmocka_unit_test(valid_ecdsa_signature_verifies),
        cmocka_unit_test(tampered_image_is_refused),
        cmocka_unit_test(tampered_signature_is_refused),
        cmocka_unit_test(signature_from_another_key_is_refused),
        cmocka_unit_test(signature_of_another_image_is_refused),
        cmocka_unit_test(algorithm_must_fit_the_key),
        cmocka_unit_test(truncated_or_empty_signatures_are_refused),
        cmocka_unit_test(unusable_keys_are_configuration_errors),
        cmocka_unit_test(base64_signature_round_trips),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
