/*
 * Exponential back-off with "full jitter": attempt n waits a uniformly
 * random time in [0, min(cap, base * 2^n)]. Spreading retries over the whole
 * window keeps a fleet that failed together from retrying together.
 */
#include "paku_ota_internal.h"

uint64_t paku_ota_backoff_ceiling_ms(uint32_t attempt, uint32_t base_ms, uint64_t cap_ms)
{
    /* With cap < 2^63 and ceiling < cap before each doubling, doubling never
     * overflows. */
    if (cap_ms > (UINT64_MAX >> 1)) {
        cap_ms = UINT64_MAX >> 1;
    }
    uint64_t ceiling = base_ms;
    for (uint32_t i = 0; i < attempt && i < 64u && ceiling != 0 && ceiling < cap_ms; i++) {
        ceiling *= 2u;
    }
    return ceiling < cap_ms ? ceiling : cap_ms;
}

uint64_t paku_ota_backoff_delay_ms(uint32_t attempt, uint32_t base_ms, uint64_t cap_ms,
                                   uint32_t rnd)
{
    uint64_t ceiling = paku_ota_backoff_ceiling_ms(attempt, base_ms, cap_ms);
    if (ceiling == 0) {
        return 0;
    }
    /* Scale a 32-bit random number onto [0, ceiling] without modulo bias
     * worth mentioning and without overflow (ceiling < 2^63). */
    if (ceiling < UINT32_MAX) {
        return (uint64_t)rnd % (ceiling + 1u);
    }
    return (ceiling / UINT32_MAX) * (uint64_t)rnd;
}
