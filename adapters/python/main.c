/*
 * The Python adapter's main: CPython 3.13 configured explicitly for a ukernel image, then the
 * project's entry script.
 *
 * The POSIX layer's _start (adapters/posix) calls main(argc, argv) with the kernel's argv and
 * envp (etc/ukernel.env) as musl's environ, and exits with what main returns. The kernel gives
 * argv[0] = "bin/python" (relative to the rootfs root), then the run's arguments.
 *
 * Image layout (docs/python.md): lib/python313.zip (the stdlib and the `ukernel` package),
 * src/ (the project), lib/site-packages/ (optional), lib/python3.13/ (optional: CPython's own
 * test packages, put there by [build] python_stdlib_tests), etc/ukernel/python-entry (the entry
 * script's rootfs path, e.g. "src/main.py").
 *
 * Configuration (PyConfig, isolated, UTF-8 mode): home "/"; sys.path = [/lib/python313.zip,
 * the entry's directory when it is not /src, /src, /lib/site-packages and /lib/python3.13 if
 * present]; no user site, no site import (the builtins exit/quit are added instead), no
 * bytecode writing, the environment's PYTHON* variables ignored except PYTHONHASHSEED; otherwise
 * the hash seed is random, which CPython draws with getrandom(2), served by the POSIX layer with
 * random.fill. stdout is line buffered (one console write per line), stderr too (CPython's
 * default).
 *
 * A trace span, "python-init", covers main up to the entry script's first line.
 *
 * Exit status: what Py_RunMain returns: 0, sys.exit(n)'s n, 1 after an uncaught exception
 * (its traceback on stderr, the console), 2 when the entry script is missing or unreadable
 * (said in one line on stderr), 120 when finalization fails (CPython's own choice).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ukernel_abi.h"

PyMODINIT_FUNC PyInit__ukernel(void);
/* The POSIX layer's copy of the kernel's call table (adapters/posix/include/ukposix.h). */
const uk_table *uk_posix_table(void);

/* The span that shows CPython's start-up in `ukernel trace` and `perf`: from main to the first
 * line of the entry script (configuration, Py_InitializeFromConfig, the start-up code). */
#define INIT_SPAN_NAME "python-init"

static int64_t init_span_begin(void) {
    const uk_table *table = uk_posix_table();
    if (table == NULL) return 0;
    return table->trace_span_begin((const uint8_t *)INIT_SPAN_NAME, sizeof(INIT_SPAN_NAME) - 1);
}

static void init_span_end(int64_t span) {
    const uk_table *table = uk_posix_table();
    if (table != NULL && span > 0) table->trace_span_end((uint64_t)span);
}

/* Where the image's root is: "" in the guest (the POSIX layer serves "/" as the rootfs root).
 * Only the host test (tests/host-test.sh) sets it, to a directory laid out like an image. */
#ifndef UK_ROOT
#define UK_ROOT ""
#endif

/* The rootfs file naming the entry script, and the longest rootfs path (abi/contracts.json
 * rootfs_path_bytes_max, 255) plus a leading "/", UK_ROOT and a NUL. */
#define ENTRY_FILE UK_ROOT "/etc/ukernel/python-entry"
#define PATH_BYTES_MAX (257 + sizeof(UK_ROOT))
#define STATUS_USAGE 2

#define STDLIB_ZIP UK_ROOT "/lib/python313.zip"
#define SOURCE_DIR UK_ROOT "/src"
#define SITE_PACKAGES_DIR UK_ROOT "/lib/site-packages"
#define STDLIB_TESTS_DIR UK_ROOT "/lib/python3.13"

/* Ran after initialization, before the entry script: line-buffered stdout (CPython buffers a
 * non-terminal stdout in blocks, which would hold output until exit) and the exit/quit builtins
 * site would have added (scripts call exit(n)). _sitebuiltins is frozen: no file is read. */
static const char *const startup_code =
    "import sys, builtins, _sitebuiltins\n"
    "sys.stdout.reconfigure(line_buffering=True)\n"
    "builtins.exit = _sitebuiltins.Quitter('exit', 'Ctrl-D (i.e. EOF)')\n"
    "builtins.quit = _sitebuiltins.Quitter('quit', 'Ctrl-D (i.e. EOF)')\n"
    "del sys, builtins, _sitebuiltins\n";

static void fail_line(const char *what, const char *detail) {
    fprintf(stderr, "python adapter: %s%s%s\n", what, detail[0] ? ": " : "", detail);
}

/* Reads etc/ukernel/python-entry into `path` as "/<content>" without surrounding whitespace.
 * Returns 0, or prints why not and returns -1. */
static int entry_path(char *path, size_t path_bytes) {
    FILE *file = fopen(ENTRY_FILE, "rb");
    if (file == NULL) {
        fail_line("cannot read " ENTRY_FILE " (the entry script's path, written by ukernel build)",
                  strerror(errno));
        return -1;
    }
    char content[PATH_BYTES_MAX + 1];
    size_t length = fread(content, 1, sizeof(content) - 1, file);
    int bad = ferror(file) || !feof(file);
    fclose(file);
    if (bad) {
        fail_line(ENTRY_FILE " is unreadable or longer than a rootfs path (255 bytes)", "");
        return -1;
    }
    content[length] = '\0';
    size_t start = 0;
    while (start < length && strchr(" \t\r\n", content[start]) != NULL) start++;
    while (length > start && strchr(" \t\r\n", content[length - 1]) != NULL) length--;
    content[length] = '\0';
    const char *relative = content + start;
    while (*relative == '/') relative++;
    if (*relative == '\0' || memchr(content + start, '\0', length - start) != NULL) {
        fail_line(ENTRY_FILE " names no script (expected a path such as src/main.py)", "");
        return -1;
    }
    int written = snprintf(path, path_bytes, UK_ROOT "/%s", relative);
    if (written < 0 || (size_t)written >= path_bytes) {
        fail_line(ENTRY_FILE " names a path longer than 255 bytes", "");
        return -1;
    }
    return 0;
}

static int is_directory(const char *path) {
    struct stat status;
    return stat(path, &status) == 0 && S_ISDIR(status.st_mode);
}

/* PYTHONHASHSEED from the workload's environment, as CPython reads it: "random" or unset for
 * a random seed, else a decimal integer 0 to 4294967295 (0 turns hash randomization off). */
static int hash_seed(PyConfig *config) {
    const char *text = getenv("PYTHONHASHSEED");
    if (text == NULL || text[0] == '\0' || strcmp(text, "random") == 0) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long seed = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] == '-' || seed > 4294967295ull) {
        fail_line("PYTHONHASHSEED (etc/ukernel.env) must be \"random\" or an integer in the "
                  "range [0; 4294967295]",
                  text);
        return -1;
    }
    config->use_hash_seed = 1;
    config->hash_seed = (unsigned long)seed;
    return 0;
}

static PyStatus append_path(PyConfig *config, const char *path) {
    wchar_t *wide = Py_DecodeLocale(path, NULL);
    if (wide == NULL) return PyStatus_NoMemory();
    PyStatus status = PyWideStringList_Append(&config->module_search_paths, wide);
    PyMem_RawFree(wide);
    return status;
}

/* sys.path: the stdlib zip first (most imports), the entry script's directory (as python
 * does for a script) unless it is /src or the root, the project's /src, then
 * /lib/site-packages and /lib/python3.13 (the `test` package) when the image has them. */
static PyStatus search_paths(PyConfig *config, const char *entry) {
    config->module_search_paths_set = 1;
    PyStatus status = append_path(config, STDLIB_ZIP);
    if (PyStatus_Exception(status)) return status;
    char directory[PATH_BYTES_MAX];
    snprintf(directory, sizeof(directory), "%s", entry);
    char *slash = strrchr(directory, '/');
    size_t root_bytes = sizeof(UK_ROOT) - 1;
    if (slash != NULL && (size_t)(slash - directory) > root_bytes) {
        *slash = '\0';
        if (strcmp(directory, SOURCE_DIR) != 0) status = append_path(config, directory);
        if (PyStatus_Exception(status)) return status;
    }
    status = append_path(config, SOURCE_DIR);
    if (PyStatus_Exception(status)) return status;
    if (is_directory(SITE_PACKAGES_DIR)) status = append_path(config, SITE_PACKAGES_DIR);
    if (PyStatus_Exception(status)) return status;
    if (is_directory(STDLIB_TESTS_DIR)) status = append_path(config, STDLIB_TESTS_DIR);
    return status;
}

/* sys.argv = [entry, run arguments...]; sys.executable "/" + argv[0]. */
static PyStatus arguments(PyConfig *config, int argc, char **argv, const char *entry) {
    const char *program = (argc > 0 && argv[0] != NULL && argv[0][0]) ? argv[0] : "bin/python";
    char executable[PATH_BYTES_MAX];
    snprintf(executable, sizeof(executable), UK_ROOT "%s%s", program[0] == '/' ? "" : "/",
             program);
    PyStatus status = PyConfig_SetBytesString(config, &config->program_name, program);
    if (PyStatus_Exception(status)) return status;
    status = PyConfig_SetBytesString(config, &config->executable, executable);
    if (PyStatus_Exception(status)) return status;
    status = PyConfig_SetBytesString(config, &config->run_filename, entry);
    if (PyStatus_Exception(status)) return status;
    /* One call for the whole list: it decodes every argument as CPython decodes its own
     * command line (UTF-8 under musl's C locale). At most workload_args_max (256) arguments. */
    int count = argc > 1 ? argc : 1;
    char **script_argv = PyMem_RawCalloc((size_t)count, sizeof(char *));
    if (script_argv == NULL) return PyStatus_NoMemory();
    script_argv[0] = (char *)entry;
    for (int index = 1; index < argc; index++) script_argv[index] = argv[index];
    status = PyConfig_SetBytesArgv(config, count, script_argv);
    PyMem_RawFree(script_argv);
    return status;
}

static PyStatus configure(PyConfig *config, int argc, char **argv, const char *entry) {
    PyConfig_InitIsolatedConfig(config);
    config->parse_argv = 0;
    config->site_import = 0;
    config->user_site_directory = 0;
    config->write_bytecode = 0;
    config->use_environment = 0;
    config->safe_path = 1;
    config->buffered_stdio = 1;
    config->install_signal_handlers = 0;
    config->pathconfig_warnings = 0;
    config->use_frozen_modules = 1;
    PyStatus status = PyConfig_SetBytesString(config, &config->home, UK_ROOT "/");
    if (PyStatus_Exception(status)) return status;
    status = search_paths(config, entry);
    if (PyStatus_Exception(status)) return status;
    return arguments(config, argc, argv, entry);
}

/* Ran after initialization, before the entry script: every module zipimport imports is read,
 * inflated and unmarshalled TWICE in CPython 3.13 (find_spec's spec_from_loader calls
 * get_filename, which loads the whole module's code just for its path; exec_module then loads
 * it again: Lib/zipimport.py). This keeps the code object of the last load and hands it to the
 * next request for the same module, once: `import asyncio` from the stdlib zip takes about a
 * quarter less CPU (bench/python/README.md). The image's zip never changes while it runs. */
static const char *const zipimport_code =
    "def _uk_zipimport_once():\n"
    "    import zipimport\n"
    "    load = zipimport._get_module_code\n"
    "    last = [None, None]\n"
    "    def _get_module_code(self, fullname):\n"
    "        key = (self.archive, self.prefix, fullname)\n"
    "        if last[0] == key:\n"
    "            found = last[1]\n"
    "            last[0] = last[1] = None\n"
    "            return found\n"
    "        found = load(self, fullname)\n"
    "        last[0], last[1] = key, found\n"
    "        return found\n"
    "    zipimport._get_module_code = _get_module_code\n"
    "_uk_zipimport_once()\n"
    "del _uk_zipimport_once\n";

int main(int argc, char **argv) {
    int64_t init_span = init_span_begin();
    char entry[PATH_BYTES_MAX];
    if (entry_path(entry, sizeof(entry)) != 0) return STATUS_USAGE;
    struct stat status_entry;
    if (stat(entry, &status_entry) != 0 || !S_ISREG(status_entry.st_mode)) {
        fprintf(stderr,
                "python adapter: the entry script %s (named by " ENTRY_FILE ") is not a file in "
                "the image; check `entry` in ukernel.toml and rebuild\n",
                entry);
        return STATUS_USAGE;
    }
    /* UTF-8 mode (PEP 540): arguments, file names, the environment and open()'s default
     * encoding are UTF-8. An isolated pre-configuration turns it off, and musl's C locale would
     * then decode non-ASCII arguments as undecodable bytes. */
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    PyStatus status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);
    if (PyImport_AppendInittab("_ukernel", PyInit__ukernel) != 0) {
        fail_line("cannot register the _ukernel module", "");
        return 1;
    }
    PyConfig config;
    status = configure(&config, argc, argv, entry);
    if (!PyStatus_Exception(status) && hash_seed(&config) != 0) {
        PyConfig_Clear(&config);
        return STATUS_USAGE;
    }
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        if (PyStatus_IsExit(status)) return status.exitcode;
        Py_ExitStatusException(status); /* Prints "Fatal Python error: ..." and exits. */
    }
    if (PyRun_SimpleString(zipimport_code) != 0) {
        fail_line("the adapter's zipimport set-up failed (traceback above)", "");
    }
    if (PyRun_SimpleString(startup_code) != 0) {
        fail_line("the adapter's start-up code failed (traceback above)", "");
    }
    /* asyncio resolves names without a thread: adapters/python/_ukernel_asyncio.py, a
     * precompiled module of the stdlib zip (compiling it here would cost start-up ~0.7 ms). An
     * image without it (a host test's layout) runs without. */
    PyObject *asyncio_names = PyImport_ImportModule("_ukernel_asyncio");
    if (asyncio_names != NULL) {
        Py_DECREF(asyncio_names);
    } else if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
        PyErr_Clear();
    } else {
        PyErr_Print();
        fail_line("the adapter's _ukernel_asyncio module failed (traceback above)", "");
    }
    init_span_end(init_span);
    return Py_RunMain();
}
