/*
 * Host port: libcurl for HTTP(S) with a client certificate, a file standing in
 * for the inactive OTA partition, and a small key=value state file standing in
 * for NVS and the bootloader's idea of which image runs.
 *
 * Files under state_dir:
 *   state        running/previous/boot version, pending-verify flag, and the
 *                core's persistent OTA state (resume offset, target, sha, ...)
 *   ota-slot.bin the inactive partition
 */
#ifndef PAKU_OTA_PORT_HOST_H
#define PAKU_OTA_PORT_HOST_H

#include <stdint.h>

#include "paku_ota_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /** Directory for the state file and the partition file (created if
     *  missing). */
    const char *state_dir;
    /** Version the device runs when the state file names none yet. */
    const char *factory_version;
    /** PEM files for mutual TLS (CURLOPT_SSLCERT / CURLOPT_SSLKEY) and the
     *  fleet CA (CURLOPT_CAINFO); NULL to leave unset. */
    const char *client_cert_path;
    const char *client_key_path;
    const char *ca_cert_path;
    /** Capacity of the simulated partition in bytes (0: 16 MiB). */
    uint64_t partition_capacity;
    /** When non-zero, the first firmware download transfer is cut after this
     *  many body bytes, as if the connection dropped. */
    uint64_t interrupt_at;
} paku_ota_host_config_t;

/**
 * @brief  Create a host port. Loads (or starts) the state file.
 * @return PAKU_OTA_OK, PAKU_OTA_ERR_INVALID_ARG, PAKU_OTA_ERR_STATE (state
 *         directory or file unusable) or PAKU_OTA_ERR_NO_MEM.
 */
paku_ota_err_t paku_ota_port_host_create(const paku_ota_host_config_t *cfg,
                                         paku_ota_port_t **out);

/** @brief Free a host port (closes the partition file). NULL is ignored. */
void paku_ota_port_host_destroy(paku_ota_port_t *port);

/** @brief Connections (TLS handshakes, over https) the port has opened: the
 *  client keeps one alive per public call, so an update costs one. */
uint64_t paku_ota_port_host_connections(const paku_ota_port_t *port);

/** @brief Whether the configured interruption has happened. */
bool paku_ota_port_host_interrupted(const paku_ota_port_t *port);

#ifdef __cplusplus
}
#endif

#endif /* PAKU_OTA_PORT_HOST_H */
