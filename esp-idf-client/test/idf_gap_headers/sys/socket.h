/*
 * Stand-in for lwIP's <sys/socket.h>, used by idf_compile_check.py only when
 * the ESP-IDF tree has no lwIP (lwIP is a git submodule, empty in ESP-IDF's
 * archives and absent from ../shared/platform-headers). esp_http_client.h
 * includes <sys/socket.h> for two things only: `struct ifreq *` (an
 * incomplete type is enough) and, since v5.1, the AF_* values of its
 * esp_http_client_addr_type_t. Those are lwIP's values (lwip/sockets.h).
 * Nothing else is declared: a source that calls a socket API fails to
 * compile here, as it should. With a full checkout (--idf-path) lwIP's own
 * headers are used instead.
 */
#pragma once
#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 10
