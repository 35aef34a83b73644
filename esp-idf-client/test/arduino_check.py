#!/usr/bin/env python3
"""Checks of the Arduino library (arduino/PakuOta) without an Arduino toolchain.

  layout       the library folder as the Arduino IDE (1.5 format), arduino-cli
               and PlatformIO read it: library.properties, library.json,
               examples/<name>/<name>.ino, the generated src/paku_ota/ up to
               date with its sources (scripts/gen-arduino-library.py --check).
  esp8266-c    every C source of the library compiled as the ESP8266 core 3.1.2
               compiles a library's C (its platform.txt flags, -DARDUINO_ARCH_
               ESP8266, the core's SDK headers with BearSSL, Debian's
               xtensa-lx106-elf-gcc with picolibc), with -Wall -Wextra -Werror;
               frame sizes and the deepest call path from -fstack-usage /
               -fcallgraph-info (the same budget as the ESP-IDF build), and the
               RAM the library's C structures take on the ESP8266.
  esp8266-cpp  the C++ (PakuOta.cpp, PakuOtaEsp8266.cpp) and the ESP8266
               example compiled -fsyntax-only with the cross compiler's C++
               front end against the real core headers (cores/esp8266,
               ESP8266WiFi with BearSSL, Updater) and the shims listed in
               test/arduino-shims/esp8266 (what the header subset lacks:
               newlib's sys/pgmspace.h and sys/config.h, eboot's two headers,
               the libstdc++ target configuration).
  esp32-cpp    the C++ and the ESP32 example compiled -fsyntax-only against
               stand-ins of arduino-esp32's Arduino.h and WiFi.h
               (test/arduino-shims/esp32): the real core is not available in
               CI. Its C sources are compiled against the real ESP-IDF headers
               by idf_compile_check.py --arduino.

Exit 0 passed, 1 failed, 77 skipped (headers or compiler absent), as CTest's
SKIP_RETURN_CODE.
"""
import argparse
import configparser
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import stack_budget

SKIP_RC = 77
COMPONENT = Path(__file__).resolve().parent.parent
LIBRARY = COMPONENT / "arduino" / "PakuOta"
GENERATED = LIBRARY / "src" / "paku_ota"
SHIMS = COMPONENT / "test" / "arduino-shims"
HEADERS = COMPONENT.parent.parent / "shared" / "platform-headers"
ESP8266_DIR = "arduino-esp8266-3.1.2"
CC = "xtensa-lx106-elf-gcc"
CXX = "xtensa-lx106-elf-g++"
HOST_LIBSTDCXX = (Path("/usr/include/c++/12"), Path("/usr/include/x86_64-linux-gnu/c++/12"))


class Skip(Exception):
    pass


def fail(problems, label):
    if problems:
        print("%s: FAILED" % label)
        for p in problems:
            print("  - %s" % p)
        return 1
    print("%s: passed" % label)
    return 0


# ------------------------------------------------------------------ layout
LP_REQUIRED = ("name", "version", "author", "maintainer", "sentence", "paragraph", "category",
               "url", "architectures")
LP_CATEGORIES = {"Display", "Communication", "Signal Input/Output", "Sensors", "Device Control",
                 "Timing", "Data Storage", "Data Processing", "Other", "Uncategorized"}


def read_properties(path):
    cp = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    cp.optionxform = str
    cp.read_string("[lib]\n" + path.read_text())
    return dict(cp["lib"])


def component_version():
    m = re.search(r'^version:\s*"([^"]+)"', (COMPONENT / "idf_component.yml").read_text(), re.M)
    return m.group(1) if m else None


def check_layout():
    problems = []
    lp_path = LIBRARY / "library.properties"
    if not lp_path.is_file():
        return fail(["library.properties missing"], "layout")
    lp = read_properties(lp_path)
    problems += ["library.properties: no %s" % k for k in LP_REQUIRED if k not in lp]
    if lp.get("name") != "PakuOta":
        problems.append("library.properties: name is %r" % lp.get("name"))
    if lp.get("architectures", "").replace(" ", "").split(",") != ["esp32", "esp8266"]:
        problems.append("library.properties: architectures must be esp32,esp8266")
    if lp.get("category") not in LP_CATEGORIES:
        problems.append("library.properties: category %r is not one of the spec's"
                        % lp.get("category"))
    if not re.fullmatch(r"\d+\.\d+\.\d+", lp.get("version", "")):
        problems.append("library.properties: version is not MAJOR.MINOR.PATCH")
    for inc in lp.get("includes", "").split(","):
        if inc.strip() and not (LIBRARY / "src" / inc.strip()).is_file():
            problems.append("library.properties: includes=%s is not in src/" % inc.strip())

    try:
        lj = json.loads((LIBRARY / "library.json").read_text())
    except (OSError, ValueError) as e:
        lj = {}
        problems.append("library.json: %s" % e)
    if lj.get("name") != lp.get("name"):
        problems.append("library.json: name differs from library.properties")
    versions = {lp.get("version"), lj.get("version"), component_version()}
    if len(versions) != 1:
        problems.append("versions differ: library.properties %s, library.json %s, "
                        "idf_component.yml %s" % (lp.get("version"), lj.get("version"),
                                                  component_version()))
    if lj.get("frameworks") != ["arduino"]:
        problems.append("library.json: frameworks must be [\"arduino\"]")
    if sorted(lj.get("platforms", [])) != ["espressif32", "espressif8266"]:
        problems.append("library.json: platforms must be espressif32 and espressif8266")
    if lj.get("build", {}).get("libArchive") is not False:
        problems.append("library.json: build.libArchive must be false (verifyRollbackLater "
                        "overrides a weak symbol of arduino-esp32)")

    examples = sorted(p for p in (LIBRARY / "examples").iterdir() if p.is_dir())
    names = [p.name for p in examples]
    if names != ["PakuOtaEsp32", "PakuOtaEsp8266"]:
        problems.append("examples: %s, want PakuOtaEsp32 and PakuOtaEsp8266" % names)
    for ex in examples:
        if not (ex / (ex.name + ".ino")).is_file():
            problems.append("examples/%s: no %s.ino (the IDE opens a sketch by its folder's "
                            "name)" % (ex.name, ex.name))
    listed = sorted(e.get("name", "") for e in lj.get("examples", []))
    if listed != names:
        problems.append("library.json: examples %s differ from the folders %s" % (listed, names))

    # the 1.5 format: sources only under src/ (a root-level .cpp makes the IDE
    # treat the library as the old flat format)
    stray = [p.name for p in LIBRARY.iterdir() if p.suffix in (".c", ".cpp", ".h")]
    if stray:
        problems.append("sources at the library's root (1.5 format wants src/): %s" % stray)

    gen = subprocess.run([sys.executable, str(COMPONENT / "scripts" / "gen-arduino-library.py"),
                          "--check"], capture_output=True, text=True)
    sys.stdout.write(gen.stdout)
    if gen.returncode != 0:
        problems.append("src/paku_ota/ is not what scripts/gen-arduino-library.py generates")
    return fail(problems, "layout")


# ------------------------------------------------------------------ ESP8266
def esp8266_root():
    root = HEADERS / ESP8266_DIR
    if not (root / "cores" / "esp8266" / "Arduino.h").is_file():
        raise Skip("ESP8266 core headers not found in %s" % root)
    return root


def need(tool, deb):
    if shutil.which(tool) is None:
        raise Skip("%s not found (apt-get install %s)" % (tool, deb))


def platform_flags(root, key):
    """A compiler flag list of the core's platform.txt, placeholders dropped."""
    m = re.search(r"^%s=(.*)$" % re.escape(key), (root / "platform.txt").read_text(), re.M)
    if m is None:
        raise RuntimeError("%s not in platform.txt" % key)
    flags = []
    for f in m.group(1).split():
        if "{" in f or f.startswith('"') or f in ("-c", "-MMD"):
            continue    # {build.*} menu values, the warning-flags file, outputs
        flags.append(f)
    return flags


# The board menu's defaults (boards.txt, not in the subset): lwIP "v2 Lower
# Memory", MMU "32KB cache + 32KB IRAM (balanced)", NONOS SDK 2.2.x.
BOARD_DEFS = ["-DNONOSDK22x_190703=1", "-DF_CPU=80000000L", "-DLWIP_OPEN_SRC", "-DTCP_MSS=536",
              "-DLWIP_FEATURES=1", "-DLWIP_IPV6=0", "-DARDUINO=10819",
              "-DARDUINO_ESP8266_GENERIC", "-DARDUINO_ARCH_ESP8266",
              "-DMMU_IRAM_SIZE=0x8000", "-DMMU_ICACHE_SIZE=0x8000"]
OUR_WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def esp8266_common(root):
    pre = ["-D__ets__", "-DICACHE_FLASH", "-U__STRICT_ANSI__", "-D_GNU_SOURCE", "-DESP8266"]
    incs = [root / "tools/sdk/include", root / "tools/sdk/lwip2/include"]
    return pre + BOARD_DEFS, incs


def sizes_probe(out):
    """A C file whose symbols' sizes are the structures' sizes on the target."""
    probe = out / "ram_probe.c"
    probe.write_text(
        '#include <bearssl/bearssl.h>\n'
        '#include "client_internal.h"\n#include "paku_ota_port_arduino.h"\n'
        "char paku_size_handle[sizeof(struct paku_ota_client)];\n"
        "char paku_size_br_ssl_client[sizeof(br_ssl_client_context)];\n"
        "char paku_size_br_x509_minimal[sizeof(br_x509_minimal_context)];\n"
        "char paku_size_br_sha256[sizeof(br_sha256_context)];\n"
        "char paku_size_port[sizeof(paku_ota_arduino_port_t)];\n"
        "char paku_size_loop[sizeof(paku_ota_loop_t)];\n"
        "char paku_size_config[sizeof(paku_ota_config_t)];\n")
    return probe


def read_sizes(obj):
    nm = subprocess.run(["xtensa-lx106-elf-nm", "-S", str(obj)], capture_output=True, text=True)
    sizes = {}
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("paku_size_"):
            sizes[parts[3][len("paku_size_"):]] = int(parts[1], 16)
    return sizes


def static_ram(objs):
    """Bytes of .data/.bss the library's objects define (static state)."""
    total = 0
    for o in objs:
        r = subprocess.run(["xtensa-lx106-elf-size", "-A", str(o)], capture_output=True,
                           text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith((".bss", ".data")) and \
                    parts[1].isdigit():
                total += int(parts[1])
    return total


def check_esp8266_c():
    root = esp8266_root()
    need(CC, "gcc-xtensa-lx106 picolibc-xtensa-lx106-elf")
    pre, incs = esp8266_common(root)
    flags = (pre + platform_flags(root, "compiler.c.flags") + OUR_WARNINGS +
             ["-fstack-usage", "-fcallgraph-info=su"] +
             ["-I%s" % p for p in incs + [GENERATED]])
    sources = sorted(GENERATED.glob("*.c"))
    if not sources:
        return fail(["no sources in %s" % GENERATED], "esp8266-c")
    problems = []
    out = Path(tempfile.mkdtemp(prefix="paku-esp8266-"))
    try:
        objs = []
        for src in sources + [sizes_probe(out)]:
            obj = out / (src.stem + ".o")
            r = subprocess.run([CC, "-c"] + flags + [str(src), "-o", str(obj)],
                               capture_output=True, text=True, cwd=out)
            label = src.name
            print("  %-28s %s" % (label, "FAILED" if r.returncode else "ok"))
            sys.stdout.write(r.stderr)
            if r.returncode:
                problems.append("%s does not compile for the ESP8266" % label)
            elif src.parent == GENERATED:
                objs.append(obj)
        if problems:
            return fail(problems, "esp8266-c")
        verify = subprocess.run(["xtensa-lx106-elf-nm", str(out / "image_verify_bearssl.o")],
                                capture_output=True, text=True).stdout
        if "br_rsa_pkcs1_vrfy_get_default" not in verify:
            problems.append("image_verify_bearssl.c compiled to nothing: the ESP8266 build "
                            "would have no crypto backend")
        frames, calls = stack_budget.read_callgraph(
            [c for c in sorted(out.glob("*.ci")) if c.stem != "ram_probe"])
        memo, recursive = stack_budget.deepest_paths(frames, calls)
        stack_budget.print_tables("ESP8266 core 3.1.2 -Os", frames, memo)
        problems += stack_budget.violations(frames, memo, recursive)
        # The core reaches the port through its table (a leaf above); the
        # port's HTTP path, which calls back into the core's body callback,
        # stacks on top of it.
        http = [f for f in memo if stack_budget.short(f) == "paku_ota_arduino_http"]
        if http:
            total, path = memo[http[0]]
            print("ESP8266: the port's HTTP request adds %d bytes (%s), before the body "
                  "callback into the core" % (total, " -> ".join(stack_budget.short(f)
                                                                 for f in path)))
        sizes = read_sizes(out / "ram_probe.o")
        print("ESP8266 RAM of the library's C structures (bytes): handle %d, Arduino port %d, "
              "loop state %d, core config %d, SHA-256 context %d; static data of all "
              "library objects %d" % (sizes.get("handle", -1), sizes.get("port", -1),
                                      sizes.get("loop", -1), sizes.get("config", -1),
                                      sizes.get("br_sha256", -1), static_ram(objs)))
        print("ESP8266 BearSSL contexts the core's WiFiClientSecure allocates (bytes): "
              "br_ssl_client_context %d, br_x509_minimal_context %d"
              % (sizes.get("br_ssl_client", -1), sizes.get("br_x509_minimal", -1)))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return fail(problems, "esp8266-c")


def libstdcxx_incs(shim_dir):
    if not all(p.is_dir() for p in HOST_LIBSTDCXX):
        raise Skip("host libstdc++ 12 headers not found (apt-get install libstdc++-12-dev)")
    return [shim_dir / "libstdcxx"] + list(HOST_LIBSTDCXX)


def syntax_check(cxx, flags, files, label):
    problems = []
    out = Path(tempfile.mkdtemp(prefix="paku-cpp-"))
    try:
        for f in files:
            src = f
            if f.suffix == ".ino":
                # what the Arduino builder does to a sketch: Arduino.h first
                src = out / (f.stem + ".cpp")
                src.write_text("#include <Arduino.h>\n#line 1 \"%s\"\n%s" % (f, f.read_text()))
            r = subprocess.run([cxx, "-fsyntax-only"] + flags + [str(src)],
                               capture_output=True, text=True)
            print("  %-28s %s" % (f.name, "FAILED" if r.returncode else "ok"))
            sys.stdout.write(r.stderr)
            if r.returncode:
                problems.append("%s does not compile" % f.name)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return fail(problems, label)


def check_esp8266_cpp():
    root = esp8266_root()
    need(CXX, "gcc-xtensa-lx106")
    pre, incs = esp8266_common(root)
    shim = SHIMS / "esp8266"
    flags = (pre + platform_flags(root, "compiler.cpp.flags") + ["-std=gnu++17"] +
             OUR_WARNINGS +
             ["-I%s" % p for p in [shim, shim / "eboot-anchor/a/b"] + incs +
              [root / "cores/esp8266", root / "variants/generic",
               root / "libraries/ESP8266WiFi/src", LIBRARY / "src"]] +
             ["-isystem%s" % p for p in libstdcxx_incs(shim)])
    files = [LIBRARY / "src" / "PakuOta.cpp", LIBRARY / "src" / "PakuOtaEsp8266.cpp",
             LIBRARY / "examples" / "PakuOtaEsp8266" / "PakuOtaEsp8266.ino"]
    return syntax_check(CXX, flags, files, "esp8266-cpp")


def check_esp32_cpp():
    need(CXX, "gcc-xtensa-lx106")
    shim = SHIMS / "esp32"
    flags = (["-std=gnu++2b", "-mlongcalls", "-Os", "-fno-rtti", "-DESP_PLATFORM",
              "-DARDUINO=10607", "-DARDUINO_ARCH_ESP32", "-DARDUINO_ESP32_DEV"] + OUR_WARNINGS +
             ["-I%s" % p for p in [shim, LIBRARY / "src"]] +
             ["-isystem%s" % p for p in libstdcxx_incs(SHIMS / "esp8266")])
    files = [LIBRARY / "src" / "PakuOta.cpp", LIBRARY / "src" / "PakuOtaEsp32.cpp",
             LIBRARY / "examples" / "PakuOtaEsp32" / "PakuOtaEsp32.ino"]
    return syntax_check(CXX, flags, files, "esp32-cpp (against stand-ins of arduino-esp32)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=("layout", "esp8266-c", "esp8266-cpp", "esp32-cpp"))
    args = ap.parse_args()
    try:
        return {"layout": check_layout, "esp8266-c": check_esp8266_c,
                "esp8266-cpp": check_esp8266_cpp, "esp32-cpp": check_esp32_cpp}[args.part]()
    except Skip as e:
        print("skipped: %s" % e)
        return SKIP_RC


if __name__ == "__main__":
    sys.exit(main())
