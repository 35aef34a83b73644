/*
 * paku-ota-sim: one simulated device running the real client core on the
 * host port. See README.md ("Simulator") for options, outcomes and exit codes.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paku_ota.h"
#include "paku_ota_port_host.h"

enum {
    EXIT_OK = 0,           /* updated, or already up to date */
    EXIT_USAGE = 2,        /* bad arguments or configuration */
    EXIT_REFUSED = 3,      /* offer refused: signature, checksum, downgrade, ... */
    EXIT_FAILED = 4,       /* could not complete: flash, state, confirmation, ... */
    EXIT_HTTP_ERROR = 5,   /* server unreachable or answered with an error */
};

static volatile sig_atomic_t s_stop;

static void on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void usage(FILE *out)
{
    fputs("usage: paku-ota-sim --server URL --id ID --model M --version V --state-dir DIR\n"
          "                    [--cert F --key F] [--cacert F] [--pubkey F]\n"
          "                    [--interrupt-at BYTES] [--allow-downgrade] [--once]\n"
          "                    [--partition-size BYTES] [--retry-base-ms MS]\n"
          "                    [--range-size BYTES]\n"
          "\n"
          "Runs as one device: checks, downloads (resuming with Range after a drop),\n"
          "verifies SHA-256 and signature, reports statuses, reboots into the new\n"
          "version and checks in again to confirm it. Prints one summary line.\n"
          "Exit codes: 0 updated/up to date, 2 usage, 3 refused, 4 failed, 5 http error.\n"
          "Log verbosity: PAKU_OTA_LOG=0..4 (default 3).\n",
          out);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || s[0] == '-') {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    const size_t max = 64 * 1024;
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool bad = buf == NULL || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int exit_code_for(paku_ota_outcome_t outcome)
{
    switch (outcome) {
    case PAKU_OTA_OUTCOME_NONE:
    case PAKU_OTA_OUTCOME_UP_TO_DATE:
    case PAKU_OTA_OUTCOME_UPDATED:
    case PAKU_OTA_OUTCOME_CONFIRMED:
        return EXIT_OK;
    case PAKU_OTA_OUTCOME_REFUSED:
        return EXIT_REFUSED;
    case PAKU_OTA_OUTCOME_HTTP_ERROR:
        return EXIT_HTTP_ERROR;
    case PAKU_OTA_OUTCOME_FAILED:
        break;
    }
    return EXIT_FAILED;
}

static void print_problem(const char *word, const paku_ota_result_t *r)
{
    if (r->to_version[0] != '\0') {
        printf("paku-ota-sim: %s %s: %s\n", word, r->to_version, r->reason);
    } else {
        printf("paku-ota-sim: %s: %s\n", word, r->reason);
    }
}

/* One cycle: check, install, reboot, confirm. Prints the summary line and
 * says when the next cycle is due. */
static int run_cycle(paku_ota_handle_t h, const paku_ota_port_t *port, uint32_t *next_s)
{
    paku_ota_result_t r;
    uint64_t before = paku_ota_port_host_connections(port);
    (void)paku_ota_check_and_update(h, &r);
    uint64_t update_conns = paku_ota_port_host_connections(port) - before;
    *next_s = r.next_check_s;
    switch (r.outcome) {
    case PAKU_OTA_OUTCOME_UP_TO_DATE:
        printf("paku-ota-sim: up to date at %s\n", r.from_version);
        return EXIT_OK;
    case PAKU_OTA_OUTCOME_UPDATED: {
        paku_ota_restart(h); /* host port: the new version now "runs" */
        paku_ota_result_t c;
        before = paku_ota_port_host_connections(port);
        (void)paku_ota_confirm_boot(h, &c);
        uint64_t confirm_conns = paku_ota_port_host_connections(port) - before;
        if (c.next_check_s > 0) {
            *next_s = c.next_check_s;
        }
        if (c.outcome != PAKU_OTA_OUTCOME_CONFIRMED) {
            print_problem("failed", &c);
            return EXIT_FAILED;
        }
        /* Connections = TLS handshakes over https: the client keeps one alive
         * from the check through the download to the last report. */
        printf("paku-ota-sim: updated %s -> %s", r.from_version, r.to_version);
        if (r.resumed_at > 0) {
            printf(" (resumed at %llu)", (unsigned long long)r.resumed_at);
        }
        printf(" (connections: %llu update, %llu confirm)\n", (unsigned long long)update_conns,
               (unsigned long long)confirm_conns);
        return EXIT_OK;
    }
    case PAKU_OTA_OUTCOME_REFUSED:
        print_problem("refused", &r);
        break;
    case PAKU_OTA_OUTCOME_HTTP_ERROR:
        print_problem("http error", &r);
        break;
    default:
        print_problem("failed", &r);
        break;
    }
    return exit_code_for(r.outcome);
}

int main(int argc, char **argv)
{
    const char *server = NULL;
    const char *id = NULL;
    const char *model = NULL;
    const char *version = NULL;
    const char *cert = NULL;
    const char *key = NULL;
    const char *cacert = NULL;
    const char *pubkey_path = NULL;
    const char *state_dir = NULL;
    uint64_t interrupt_at = 0;
    uint64_t partition_size = 0;
    uint64_t retry_base_ms = 500;
    uint64_t range_size = 0;
    bool allow_downgrade = false;
    bool once = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--allow-downgrade") == 0) {
            allow_downgrade = true;
            takes_value = false;
        } else if (strcmp(a, "--once") == 0) {
            once = true;
            takes_value = false;
        } else if (v == NULL) {
            ok = false;
        } else if (strcmp(a, "--server") == 0) {
            server = v;
        } else if (strcmp(a, "--id") == 0) {
            id = v;
        } else if (strcmp(a, "--model") == 0) {
            model = v;
        } else if (strcmp(a, "--version") == 0) {
            version = v;
        } else if (strcmp(a, "--cert") == 0) {
            cert = v;
        } else if (strcmp(a, "--key") == 0) {
            key = v;
        } else if (strcmp(a, "--cacert") == 0) {
            cacert = v;
        } else if (strcmp(a, "--pubkey") == 0) {
            pubkey_path = v;
        } else if (strcmp(a, "--state-dir") == 0) {
            state_dir = v;
        } else if (strcmp(a, "--interrupt-at") == 0) {
            ok = parse_u64(v, &interrupt_at);
        } else if (strcmp(a, "--partition-size") == 0) {
            ok = parse_u64(v, &partition_size);
        } else if (strcmp(a, "--range-size") == 0) {
            ok = parse_u64(v, &range_size) && range_size <= UINT32_MAX;
        } else if (strcmp(a, "--retry-base-ms") == 0) {
            ok = parse_u64(v, &retry_base_ms) && retry_base_ms <= 60000;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "paku-ota-sim: bad or incomplete option %s\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (takes_value) {
            i++;
        }
    }
    if (server == NULL || id == NULL || model == NULL || version == NULL || state_dir == NULL) {
        fprintf(stderr, "paku-ota-sim: --server, --id, --model, --version and --state-dir "
                        "are required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, "paku-ota-sim: --cert and --key go together\n");
        return EXIT_USAGE;
    }
    if (!paku_ota_version_is_valid(version)) {
        fprintf(stderr, "paku-ota-sim: --version %s is not SemVer\n", version);
        return EXIT_USAGE;
    }
    if (strncmp(server, "https://", 8) == 0 && cacert == NULL) {
        fprintf(stderr, "paku-ota-sim: warning: no --cacert; the system CA store is used\n");
    }

    char *pubkey = NULL;
    if (pubkey_path != NULL) {
        pubkey = read_file(pubkey_path);
        if (pubkey == NULL) {
            fprintf(stderr, "paku-ota-sim: cannot read --pubkey %s\n", pubkey_path);
            return EXIT_USAGE;
        }
    }

    paku_ota_host_config_t hc = {
        .state_dir = state_dir,
        .factory_version = version,
        .client_cert_path = cert,
        .client_key_path = key,
        .ca_cert_path = cacert,
        .partition_capacity = partition_size,
        .interrupt_at = interrupt_at,
    };
    paku_ota_port_t *port = NULL;
    paku_ota_err_t err = paku_ota_port_host_create(&hc, &port);
    if (err != PAKU_OTA_OK) {
        fprintf(stderr, "paku-ota-sim: cannot use state dir %s (%s)\n", state_dir,
                paku_ota_err_to_name(err));
        free(pubkey);
        return EXIT_USAGE;
    }

    paku_ota_config_t cfg;
    paku_ota_config_default(&cfg);
    cfg.server_url = server;
    cfg.device_id = id;
    cfg.device_model = model;
    cfg.running_version = NULL; /* the state file knows what "runs" now */
    cfg.signing_pubkey_pem = pubkey;
    cfg.allow_downgrade = allow_downgrade;
    cfg.range_request_size = (uint32_t)range_size;
    cfg.retry_base_ms = (uint32_t)retry_base_ms;
    cfg.retry_max_ms = (uint32_t)(retry_base_ms * 16u);
    cfg.max_attempts = 5;
    cfg.confirm_attempts = 3;
    cfg.max_inline_retry_after_s = 30;
    /* A simulator talks to development servers too; a device build must opt
     * in to plain http (CONFIG_PAKU_OTA_ALLOW_PLAIN_HTTP). */
    cfg.allow_plain_http = strncmp(server, "http://", 7) == 0;
    if (cfg.allow_plain_http) {
        fprintf(stderr, "paku-ota-sim: warning: plain http, no TLS\n");
    }

    paku_ota_handle_t h = NULL;
    err = paku_ota_create(&cfg, port, &h);
    if (err != PAKU_OTA_OK) {
        fprintf(stderr, "paku-ota-sim: configuration error (%s)\n", paku_ota_err_to_name(err));
        paku_ota_port_host_destroy(port);
        free(pubkey);
        return EXIT_USAGE;
    }

    /* A previous run may have "rebooted" into an image it never confirmed. */
    paku_ota_result_t boot;
    (void)paku_ota_confirm_boot(h, &boot);

    int code;
    uint32_t next_s = 0;
    if (once) {
        code = run_cycle(h, port, &next_s);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        code = EXIT_OK;
        while (!s_stop) {
            code = run_cycle(h, port, &next_s);
            fflush(stdout);
            /* Honour the server's next_check_seconds (or the back-off). */
            for (uint32_t s = 0; s < next_s && !s_stop; s++) {
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
            }
        }
    }

    paku_ota_destroy(h);
    paku_ota_port_host_destroy(port);
    free(pubkey);
    return code;
}
