#!/usr/bin/env python3
"""Compile the ESP-IDF component against the real ESP-IDF headers.

Every C source of the component (src/core/*.c and src/port/esp_idf/*.c) is
compiled for one ESP-IDF version and one target with ESP-IDF's default
component flags, as a user's project would build it:

  - the flags of __build_set_default_build_specifications() read from the
    version's own tools/cmake/build.cmake (-Wall -Werror[=all] -Wextra, the
    -Wno-error list, -ffunction-sections -fdata-sections, -std=...);
  - the flags ESP-IDF's root CMakeLists.txt adds with the default sdkconfig
    (that file is not in the header subsets, so they are listed below):
    -Og -fno-shrink-wrap (COMPILER_OPTIMIZATION_DEBUG, the default),
    -fstrict-volatile-bitfields, -fno-jump-tables, -fno-tree-switch-conversion,
    -Wno-old-style-declaration;
  - the target's arch flags (ESP32-C3: rv32imc_zicsr_zifencei / ilp32 with
    Debian's riscv64-unknown-elf-gcc; ESP32: -mlongcalls -mabi=windowed with
    Debian's xtensa-lx106-elf-gcc, whose GCC emits the windowed ABI but whose
    assembler has no windowed opcodes, so every source is compiled to
    assembly only: the compiler's diagnostics and frame sizes are complete,
    nothing is assembled or linked);
  - an sdkconfig.h written from test/idf-sdkconfig.h.in plus the defaults of
    the component's own Kconfig.

Headers come from ../shared/platform-headers (override with
PAKU_OTA_PLATFORM_HEADERS) or from a full ESP-IDF checkout (--idf-path, e.g.
"$IDF_PATH"). When neither is there the check prints "skipped: ..." and exits
with SKIP_RC, which CTest reports as skipped (not passed).

The stack-budget check (stack_budget.py) reuses this module to build the same
objects with -fstack-usage / -fcallgraph-info=su.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP_RC = 77

COMPONENT_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = COMPONENT_DIR.parent
SDKCONFIG_TEMPLATE = COMPONENT_DIR / "test" / "idf-sdkconfig.h.in"
SOURCE_GLOBS = ("src/core/*.c", "src/port/esp_idf/*.c")

# ESP-IDF version -> the Mbed TLS release it ships (folders of platform-headers).
MBEDTLS_FOR_IDF = {"5.0.9": "mbedtls-v3.2.1", "5.5.5": "mbedtls-v3.6.5",
                   "6.0.2": "mbedtls-v4.0.0"}

TARGETS = {
    "esp32c3": {
        "arch": "riscv", "chip_id": 5, "cc": "riscv64-unknown-elf-gcc",
        "flags": ["-march=rv32imc_zicsr_zifencei", "-mabi=ilp32"],
        "picolibc": ["--specs=picolibc.specs"],
        "deb": "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf",
    },
    "esp32": {
        "arch": "xtensa", "chip_id": 0, "cc": "xtensa-lx106-elf-gcc",
        "flags": ["-mlongcalls", "-mabi=windowed"],
        "picolibc": [],                                  # its default libc
        "deb": "gcc-xtensa-lx106 picolibc-xtensa-lx106-elf",
    },
}

# From ESP-IDF's root CMakeLists.txt for the default configuration (the file
# is not part of the header subsets, so it cannot be read here).
IDF_ROOT_FLAGS = {
    "Og": ["-Og", "-fno-shrink-wrap"],          # CONFIG_COMPILER_OPTIMIZATION_DEBUG (default)
    "Os": ["-Os", "-freorder-blocks"],          # CONFIG_COMPILER_OPTIMIZATION_SIZE
}
IDF_ROOT_COMMON = ["-fstrict-volatile-bitfields", "-fno-jump-tables",
                   "-fno-tree-switch-conversion", "-Wno-old-style-declaration"]
XTENSA_SIZE_FLAGS = ["-mno-target-align"]        # with -Os on Xtensa

# Public include directories of the components the sources reach, relative to
# components/ ({target}, {arch} substituted). Directories a version does not
# have are left out, so one list serves v5.0 ... v6.0 and a full checkout.
INCLUDE_DIRS = [
    "esp_common/include", "esp_system/include", "log/include", "heap/include",
    "esp_hw_support/include", "esp_hw_support/include/soc",
    "esp_hw_support/include/soc/{target}", "esp_hw_support/dma/include",
    "esp_hw_support/ldo/include", "esp_hw_support/debug_probe/include",
    "esp_hw_support/mspi_timing_tuning/include", "esp_hw_support/power_supply/include",
    "esp_hw_support/etm/include", "esp_hw_support/modem/include",
    "esp_rom/include", "esp_rom/include/{target}", "esp_rom/{target}",
    "esp_rom/{target}/include", "esp_rom/{target}/include/{target}",
    "soc/include", "soc/{target}", "soc/{target}/include", "soc/{target}/register",
    "hal/platform_port/include", "hal/{target}/include", "hal/include",
    "efuse/include", "efuse/{target}/include", "esp_security/include",
    "newlib/platform_include", "esp_libc/platform_include",
    "{arch}/include", "{arch}/{target}/include", "{arch}/deprecated_include",
    "freertos/config/include", "freertos/config/include/freertos",
    "freertos/config/{arch}/include",
    "freertos/FreeRTOS-Kernel/include",
    "freertos/FreeRTOS-Kernel/portable/{arch}/include",
    "freertos/FreeRTOS-Kernel/portable/{arch}/include/freertos",
    "freertos/esp_additions/include", "freertos/esp_additions/include/freertos",
    "freertos/esp_additions/arch/{arch}/include",
    "esp_timer/include", "esp_event/include", "esp_pm/include",
    "esp_driver_gpio/include", "esp_blockdev/include",
    "spi_flash/include", "esp_partition/include",
    "bootloader_support/include", "bootloader_support/bootloader_flash/include",
    "esp_app_format/include", "esp_bootloader_format/include", "app_update/include",
    "nvs_flash/include", "esp_http_client/include", "tcp_transport/include",
    "esp-tls", "esp-tls/esp-tls-crypto", "http_parser", "esp_https_ota/include",
    "mbedtls/port/include", "mbedtls/esp_crt_bundle/include",
    "mbedtls/port/psa_driver/include",
    "lwip/include", "lwip/lwip/src/include", "lwip/port/include",
    "lwip/port/freertos/include", "lwip/port/esp32xx/include",
    "lwip/port/esp32xx/include/arch", "lwip/port/esp32xx/include/sys",
]
# Include directories of an Mbed TLS tree (3.x: include; 4.x: + TF-PSA-Crypto).
MBEDTLS_INCLUDE_DIRS = ["include", "tf-psa-crypto/include",
                        "tf-psa-crypto/drivers/builtin/include"]
CJSON_SYSTEM_DIR = Path("/usr/include/cjson")    # Debian libcjson-dev
NEWLIB_SYSTEM_DIR = Path("/usr/include/newlib")  # Debian libnewlib-dev
# Stands in for lwIP's <sys/socket.h> when the tree has no lwIP (see the file).
GAP_HEADERS_DIR = COMPONENT_DIR / "test" / "idf_gap_headers"


class Skip(Exception):
    """The check cannot run here (headers or compiler missing)."""


# ------------------------------------------------------------------ platform
def headers_root():
    env = os.environ.get("PAKU_OTA_PLATFORM_HEADERS")
    return Path(env) if env else REPO_DIR.parent / "shared" / "platform-headers"


def read_idf_version(idf_dir):
    text = (idf_dir / "components/esp_common/include/esp_idf_version.h").read_text()
    parts = [re.search(r"#define\s+ESP_IDF_VERSION_%s\s+(\d+)" % p, text).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def locate_platform(idf_version, idf_path):
    """(idf_dir, mbedtls_dir, version) of shared headers or of a checkout."""
    if idf_path:
        idf_dir = Path(idf_path)
        if not (idf_dir / "components").is_dir():
            raise Skip("IDF_PATH %s is not an ESP-IDF checkout" % idf_dir)
        return idf_dir, idf_dir / "components/mbedtls/mbedtls", read_idf_version(idf_dir)
    root = headers_root()
    idf_dir = root / ("esp-idf-v" + idf_version)
    if not idf_dir.is_dir():
        raise Skip("%s not found (set PAKU_OTA_PLATFORM_HEADERS or pass --idf-path)" % idf_dir)
    return idf_dir, root / MBEDTLS_FOR_IDF[idf_version], idf_version


def _cmake_quoted_list(body):
    body = re.sub(r"#[^\n]*", "", body)
    return re.findall(r'"([^"]*)"|(\S+)', body)


def build_cmake_flags(idf_dir):
    """Options and definitions of __build_set_default_build_specifications()."""
    text = (idf_dir / "tools/cmake/build.cmake").read_text()
    m = re.search(r"function\(__build_set_default_build_specifications\)(.*?)endfunction",
                  text, re.S)
    if m is None:
        raise RuntimeError("build.cmake: __build_set_default_build_specifications not found")
    body = m.group(1)
    flags, defs = [], []
    for kind, items in re.findall(r"list\(APPEND\s+(\w+)\s+(.*?)\)", body, re.S):
        values = [a or b for a, b in _cmake_quoted_list(items)]
        if kind in ("compile_options", "c_compile_options"):
            flags += values
        elif kind == "compile_definitions":
            defs += [v if v.startswith("-D") else "-D" + v for v in values]
    if not any(f.startswith("-std=") for f in flags):
        # v5.0 sets the standard in __build_set_lang_version
        std = re.search(r"set\(c_std\s+(\S+)\)", text)
        flags.append("-std=" + (std.group(1) if std else "gnu17"))
    return flags, defs


def adapt_std(flags, cc):
    """ESP-IDF v6 asks for -std=gnu23, which GCC 12 calls gnu2x."""
    out = []
    for f in flags:
        if f in ("-std=gnu23", "-std=c23") and not compiler_accepts(cc, f):
            f = f.replace("23", "2x")
        out.append(f)
    return out


_accept_cache = {}


def compiler_accepts(cc, flag):
    key = (cc, flag)
    if key not in _accept_cache:
        r = subprocess.run([cc, flag, "-x", "c", "-S", "-o", os.devnull, "-"],
                           input="", capture_output=True, text=True)
        _accept_cache[key] = r.returncode == 0
    return _accept_cache[key]


# ------------------------------------------------------------------ sdkconfig
def kconfig_defaults(kconfig):
    """#define lines for what a fresh sdkconfig holds for a Kconfig file: the
    first default of every option (conditions are not evaluated), and in a
    choice its default option (else its first)."""
    lines, name, kind = [], None, None
    choice, choice_default, choice_first = False, None, None
    for raw in kconfig.read_text().splitlines():
        line = raw.strip()
        if re.match(r"(choice|endchoice|menu|endmenu|if|endif|comment|source)\b", line):
            if line.startswith("endchoice") and (choice_default or choice_first):
                lines.append("#define CONFIG_%s 1" % (choice_default or choice_first))
            if line.startswith("choice") or line.startswith("endchoice"):
                choice = line.startswith("choice")
                choice_default = choice_first = None
            name = None
            continue
        m = re.match(r"(?:menu)?config\s+(\w+)$", line)
        if m:
            name, kind = m.group(1), None
            if choice and choice_first is None:
                choice_first = name
            continue
        m = re.match(r"default\s+(.+?)(\s+if\s+.*)?$", line)
        if choice and name is None and m and choice_default is None:
            choice_default = m.group(1)
            continue
        m2 = re.match(r"(bool|int|hex|string)\b", line)
        if name and m2 and kind is None:
            kind = m2.group(1)
            continue
        if name and kind and m and not choice:
            value = m.group(1)
            if kind != "bool":
                lines.append("#define CONFIG_%s %s" % (name, value))
            elif value == "y":
                lines.append("#define CONFIG_%s 1" % name)
            name = None
    return lines


def libc_flags(idf_dir, target):
    """(compiler flags, sdkconfig lines) of the C library to compile with.

    ESP-IDF v5.0 builds on newlib (its newlib component wraps newlib's
    headers with #include_next): Debian's libnewlib-dev headers are used.
    From v5.5 on ESP-IDF offers picolibc (CONFIG_LIBC_PICOLIBC, v6's
    default); its wrappers expect newlib 4.3 headers, which Debian does not
    have (3.3), so those versions are compiled in their picolibc
    configuration with the cross compiler's own picolibc.
    """
    t = TARGETS[target]
    kconfigs = [idf_dir / "components" / c / "Kconfig" for c in ("esp_libc", "newlib")]
    if any(k.is_file() and "config LIBC_PICOLIBC" in k.read_text() for k in kconfigs):
        # Debian's picolibc 1.8 <stdio.h> does not declare ssize_t, which
        # esp_libc's stdio.h wrapper uses and the newer picolibc of ESP-IDF's
        # toolchain declares there.
        return t["picolibc"] + ["-include", "sys/types.h"], [
            "#define CONFIG_LIBC_PICOLIBC 1",
            "#define CONFIG_LIBC_PICOLIBC_NEWLIB_COMPATIBILITY 1",
            "#define CONFIG_LIBC_STDOUT_LINE_ENDING_CRLF 1",
            "#define CONFIG_LIBC_STDIN_LINE_ENDING_CR 1"]
    if not (NEWLIB_SYSTEM_DIR / "sys/reent.h").is_file():
        raise Skip("%s not found (apt-get install libnewlib-dev)" % NEWLIB_SYSTEM_DIR)
    gcc_inc = subprocess.run([t["cc"], "-print-file-name=include"], capture_output=True,
                             text=True, check=True).stdout.strip()
    flags = ["-nostdinc", "-isystem", gcc_inc, "-isystem", gcc_inc + "-fixed",
             "-isystem", str(NEWLIB_SYSTEM_DIR)]
    return flags, ["#define CONFIG_NEWLIB_STDOUT_LINE_ENDING_CRLF 1",
                   "#define CONFIG_NEWLIB_STDIN_LINE_ENDING_CR 1"]


def write_sdkconfig(out_dir, target, idf_version, libc_config, extra_lines=()):
    t = TARGETS[target]
    text = SDKCONFIG_TEMPLATE.read_text()
    subst = {
        "IDF_TARGET": target, "IDF_TARGET_UPPER": target.upper(),
        "IDF_TARGET_ARCH": t["arch"], "IDF_TARGET_ARCH_UPPER": t["arch"].upper(),
        "IDF_FIRMWARE_CHIP_ID": str(t["chip_id"]),
        "IDF_VERSION_MAJOR": idf_version.split(".")[0],
        "LIBC_CONFIG": "\n".join(libc_config),
        "PAKU_OTA_KCONFIG_DEFAULTS": "\n".join(kconfig_defaults(COMPONENT_DIR / "Kconfig")),
    }
    for key, value in subst.items():
        text = text.replace("@%s@" % key, value)
    leftover = re.findall(r"@\w+@", text)
    if leftover:
        raise RuntimeError("%s: unknown placeholders %s" % (SDKCONFIG_TEMPLATE, leftover))
    # a project's own choices, applied last (e.g. "#undef CONFIG_X")
    text += "".join(line + "\n" for line in extra_lines)
    (out_dir / "sdkconfig.h").write_text(text)


# ------------------------------------------------------------------ sources
def component_sources():
    """Sources to compile; every one must also be registered in CMakeLists.txt."""
    sources = sorted(p for g in SOURCE_GLOBS for p in COMPONENT_DIR.glob(g))
    cmake = (COMPONENT_DIR / "CMakeLists.txt").read_text()
    def registered(rel):
        return re.search(r"(?<![\w/.-])%s(?![\w.])" % re.escape(rel), cmake) is not None
    unregistered = [str(p.relative_to(COMPONENT_DIR)) for p in sources
                    if not registered(str(p.relative_to(COMPONENT_DIR)))]
    return sources, unregistered


# ------------------------------------------------------------------ compile
def compile_plan(idf_version, target, idf_path=None, opt="Og", extra_flags=(), out_dir=None,
                 sdkconfig_lines=()):
    """Everything needed to compile: (cc, flags list, sources, out_dir, info)."""
    t = TARGETS[target]
    if shutil.which(t["cc"]) is None:
        raise Skip("%s not found (apt-get install %s, or run scripts/install-host-deps.sh)"
                   % (t["cc"], t["deb"]))
    idf_dir, mbedtls_dir, version = locate_platform(idf_version, idf_path)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="paku-idf-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    libc, libc_config = libc_flags(idf_dir, target)
    write_sdkconfig(out_dir, target, version, libc_config, sdkconfig_lines)

    base_flags, base_defs = build_cmake_flags(idf_dir)
    flags = (adapt_std(base_flags, t["cc"]) + IDF_ROOT_FLAGS[opt] + IDF_ROOT_COMMON
             + t["flags"] + libc)
    if opt == "Os" and t["arch"] == "xtensa":
        flags += XTENSA_SIZE_FLAGS
    defs = base_defs + ["-DESP_PLATFORM", '-DIDF_VER="v%s"' % version,
                        '-DMBEDTLS_CONFIG_FILE="mbedtls/esp_config.h"',
                        "-DSOC_MMU_PAGE_SIZE=CONFIG_MMU_PAGE_SIZE",
                        "-DSOC_XTAL_FREQ_MHZ=CONFIG_XTAL_FREQ"]
    mbedtls_incs = [mbedtls_dir / d for d in MBEDTLS_INCLUDE_DIRS if (mbedtls_dir / d).is_dir()]
    if not mbedtls_incs:
        raise Skip("Mbed TLS headers not found in %s" % mbedtls_dir)
    if (mbedtls_dir / "tf-psa-crypto").is_dir():
        # what ESP-IDF v6's mbedtls component exports to its dependents
        defs += ["-DMBEDTLS_MAJOR_VERSION=4", "-D__STDC_WANT_LIB_EXT1__=0",
                 '-DTF_PSA_CRYPTO_USER_CONFIG_FILE="mbedtls/esp_config.h"']

    comps = idf_dir / "components"
    incs = [COMPONENT_DIR / "include", COMPONENT_DIR / "src/core", out_dir]
    for d in INCLUDE_DIRS:
        p = comps / d.format(target=target, arch=t["arch"])
        if p.is_dir() and p not in incs:
            incs.append(p)
    incs += mbedtls_incs
    if not any((p / "sys/socket.h").is_file() for p in incs):
        incs.append(GAP_HEADERS_DIR)
    bundled_cjson = comps / "json/cJSON"
    incs.append(bundled_cjson if (bundled_cjson / "cJSON.h").is_file() else CJSON_SYSTEM_DIR)

    sources, unregistered = component_sources()
    cmd = flags + list(extra_flags) + defs + ["-I%s" % p for p in incs]
    info = {"idf_dir": idf_dir, "mbedtls_dir": mbedtls_dir, "version": version,
            "unregistered": unregistered}
    return t["cc"], cmd, sources, out_dir, info


def compile_all(cc, flags, sources, out_dir, jobs):
    """Compile each source to assembly; returns [(source, rc, diagnostics)]."""
    def one(src):
        rel = src.relative_to(COMPONENT_DIR)
        out = out_dir / (str(rel).replace("/", "__")[:-2] + ".s")
        r = subprocess.run([cc] + flags + ["-S", str(src), "-o", str(out)],
                           capture_output=True, text=True, cwd=out_dir)
        return rel, r.returncode, r.stderr
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, sources))


def default_jobs():
    return int(os.environ.get("PAKU_OTA_IDF_CHECK_JOBS", "1"))


def check(args, opt):
    """Compile every source at one optimisation level; returns failures."""
    cc, flags, sources, out_dir, info = compile_plan(
        args.idf_version, args.target, args.idf_path, opt,
        out_dir=Path(args.out) / opt if args.out else None, sdkconfig_lines=args.sdkconfig)
    label = "ESP-IDF v%s %s -%s" % (info["version"], args.target, opt)
    print("%s: %s, Mbed TLS from %s, %d sources" % (label, info["idf_dir"],
                                                   info["mbedtls_dir"].name, len(sources)))
    if args.verbose:
        print(" ".join([cc] + flags))
    failed = warned = 0
    if args.expect_error:
        return expect_refusal(args, label, cc, flags, sources, out_dir)
    for rel, rc, diag in compile_all(cc, flags, sources, out_dir, args.jobs):
        print("  %-40s %s" % (rel, "FAILED" if rc else ("warnings" if diag.strip() else "ok")))
        sys.stdout.write(diag)
        failed += rc != 0
        warned += rc == 0 and bool(diag.strip())
    for rel in info["unregistered"]:
        print("  %-40s FAILED: not in CMakeLists.txt, an ESP-IDF build would not compile it"
              % rel)
        failed += 1
    if args.out is None:
        shutil.rmtree(out_dir, ignore_errors=True)
    verdict = "%d of %d sources failed" % (failed, len(sources)) if failed else \
        "all %d sources compile" % len(sources)
    print("%s: %s%s\n" % (label, verdict, ", %d with warnings" % warned if warned else ""))
    return failed


def expect_refusal(args, label, cc, flags, sources, out_dir):
    """A configuration the component must refuse at build time: passes (0
    failures) only when some source fails with the expected message."""
    results = compile_all(cc, flags, sources, out_dir, args.jobs)
    if args.out is None:
        shutil.rmtree(out_dir, ignore_errors=True)
    hits = [rel for rel, rc, diag in results if rc != 0 and args.expect_error in diag]
    if hits:
        print("%s: refused as expected (%s): %s\n" % (label, ", ".join(map(str, hits)),
                                                     args.expect_error))
        return 0
    print("%s: NOT refused with %r; sdkconfig lines %s\n" % (label, args.expect_error,
                                                          args.sdkconfig))
    for rel, rc, diag in results:
        sys.stdout.write(diag)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idf-version", default="5.5.5", choices=sorted(MBEDTLS_FOR_IDF),
                    help="folder of the shared platform headers (ignored with --idf-path)")
    ap.add_argument("--idf-path", help="a full ESP-IDF checkout instead (e.g. \"$IDF_PATH\")")
    ap.add_argument("--target", default="esp32c3", choices=sorted(TARGETS))
    ap.add_argument("--opt", action="append", choices=sorted(IDF_ROOT_FLAGS),
                    help="optimisation level(s) (default: -Og, ESP-IDF's default, and -Os)")
    ap.add_argument("--out", help="keep the outputs here (default: a temporary directory)")
    ap.add_argument("-j", "--jobs", type=int, default=default_jobs())
    ap.add_argument("-v", "--verbose", action="store_true", help="print the compiler command")
    ap.add_argument("--sdkconfig", action="append", default=[], metavar="LINE",
                    help="a line appended to sdkconfig.h (e.g. \"#undef CONFIG_X\")")
    ap.add_argument("--expect-error", metavar="TEXT",
                    help="pass only if the build fails with this text (a refused configuration)")
    args = ap.parse_args()
    try:
        failed = sum(check(args, opt) for opt in args.opt or ["Og", "Os"])
    except Skip as e:
        print("skipped: %s" % e)
        return SKIP_RC
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
