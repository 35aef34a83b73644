/*
 * Shim: the host libstdc++ is configured for POSIX threads (pthread.h, which
 * picolibc lacks); the ESP8266's libstdc++ is single-threaded, as selected
 * here.
 */
#include <bits/gthr-single.h>
