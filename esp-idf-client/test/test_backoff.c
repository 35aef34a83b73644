/* Exponential back-off with full jitter: bounds and growth. */
#include <string.h>

#include "paku_ota_internal.h"
#include "test_util.h"

static void ceiling_doubles_per_attempt_until_the_cap(void **state)
{
    (void)state;
    assert_int_equal(paku_ota_backoff_ceiling_ms(0, 1000, 60000), 1000);
    assert_int_equal(paku_ota_backoff_ceiling_ms(1, 1000, 60000), 2000);
    assert_int_equal(paku_ota_backoff_ceiling_ms(2, 1000, 60000), 4000);
    assert_int_equal(paku_ota_backoff_ceiling_ms(5, 1000, 60000), 32000);
    assert_int_equal(paku_ota_backoff_ceiling_ms(6, 1000, 60000), 60000);
    assert_int_equal(paku_ota_backoff_ceiling_ms(1000000, 1000, 60000), 60000);
}

static void huge_attempts_and_caps_do_not_overflow(void **state)
{
    (void)state;
    uint64_t c = paku_ota_backoff_ceiling_ms(UINT32_MAX, UINT32_MAX, UINT64_MAX);
    assert_true(c > 0);
    assert_true(c <= (UINT64_MAX >> 1));
    assert_true(paku_ota_backoff_delay_ms(UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT32_MAX) <= c);
    assert_int_equal(paku_ota_backoff_ceiling_ms(UINT32_MAX, 0, 60000), 0);
    assert_int_equal(paku_ota_backoff_delay_ms(7, 0, 60000, 12345), 0);
    assert_int_equal(paku_ota_backoff_ceiling_ms(3, 1000, 0), 0);
}

static void delay_stays_within_zero_and_the_ceiling(void **state)
{
    (void)state;
    uint32_t x = 1;
    for (uint32_t attempt = 0; attempt < 40; attempt++) {
        uint64_t ceiling = paku_ota_backoff_ceiling_ms(attempt, 500, 30000);
        uint64_t max_seen = 0;
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            uint64_t d = paku_ota_backoff_delay_ms(attempt, 500, 30000, x);
            assert_true(d <= ceiling);
            if (d > max_seen) {
                max_seen = d;
            }
        }
        /* Full jitter uses the whole window, not a sliver of it. */
        assert_true(max_seen >= ceiling * 9 / 10);
    }
    assert_int_equal(paku_ota_backoff_delay_ms(3, 1000, 60000, 0), 0);
    assert_true(paku_ota_backoff_delay_ms(3, 1000, 60000, UINT32_MAX) <= 8000);
}

static void large_ceilings_scale_the_random_number(void **state)
{
    (void)state;
    uint64_t cap = 10ULL * 24 * 3600 * 1000 * 1000; /* bigger than 2^32 ms */
    uint64_t ceiling = paku_ota_backoff_ceiling_ms(40, 1000, cap);
    assert_int_equal(ceiling, cap);
    uint64_t top = paku_ota_backoff_delay_ms(40, 1000, cap, UINT32_MAX);
    assert_true(top <= cap);
    assert_true(top >= cap - cap / 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ceiling_doubles_per_attempt_until_the_cap),
        cmocka_unit_test(huge_attempts_and_caps_do_not_overflow),
        cmocka_unit_test(delay_stays_within_zero_and_the_ceiling),
        cmocka_unit_test(large_ceilings_scale_the_random_number),
    };
    return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
