/*
 * Shim: the ESP8266's toolchain has libstdc++ built for newlib; Debian's
 * cross compiler has none, so the check uses the host's libstdc++ 12 headers
 * (the same GCC 12). Their configuration is glibc's: this file stands in for
 * the glibc-specific bits/os_defines.h with libstdc++'s newlib settings, so
 * that the headers do not reach for <features.h>.
 */
#ifndef _GLIBCXX_OS_DEFINES
#define _GLIBCXX_OS_DEFINES 1
#endif
