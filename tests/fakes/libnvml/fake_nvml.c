/*
 * A fake libnvidia-ml.so.1 for tests: the NVML C ABI, driven by a scenario file.
 *
 * The real nvidia-ml-py bindings (`import pynvml`) load it through LD_LIBRARY_PATH and call it
 * exactly as they call NVIDIA's library: nvmlReturn_t codes, caller-allocated structs laid out as
 * nvml.h declares them, versioned entry points looked up by name with dlsym. Which entry points a
 * driver branch exports is decided when the library is linked (tests/fakes/nvml_lib.py hides the
 * ones a branch lacks with a linker version script), so an old driver is modelled by what it
 * does not have, as on a real machine.
 *
 * The scenario (path in FAKE_NVML_SCENARIO) is read at nvmlInit, one "key value" per line:
 *
 *   init_error 9             nvmlInit returns this code (9 DriverNotLoaded, 18 LibRmVersionMismatch ...)
 *   init_hang 1              nvmlInit never returns
 *   driver 470.82.01         nvmlSystemGetDriverVersion
 *   cuda 11040               nvmlSystemGetCudaDriverVersion(_v2)
 *   gpus 8                   how many GPUs nvmlDeviceGetCount reports
 *   count_error 999          nvmlDeviceGetCount returns this code
 *   gpu.N.name NVIDIA GeForce RTX 3090
 *   gpu.N.cc 8.6             also: uuid busid memory temperature power clocks utilization
 *   gpu.N.pci_device_id 0x233510de   nvmlPciInfo_t.pciDeviceId (device ID << 16 | vendor 0x10de)
 *                            clocks_event pcie ecc remap persistence compute_mode mig mig_uuids processes
 *   gpu.N.handle_error 15    nvmlDeviceGetHandleByIndex fails (15 GpuIsLost)
 *   gpu.N.lost 1             every query of this GPU returns GpuIsLost
 *   gpu.N.fail.FIELD 3       one field returns this code (3 NotSupported)
 *   gpu.N.hang.FIELD 1       one field never returns
 *   gpu.N.crash.FIELD MS     one field kills the process with SIGSEGV after MS milliseconds
 *
 * FAKE_NVML_TRACE names a file that gets one line per entry point called.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_UNKNOWN = 999,
};

/* ---- structs as nvml.h lays them out ---- */

typedef struct {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t; /* also nvmlProcessInfo_t, taken by the _v3 entry points */

/* ---- the fake machine ---- */

enum field {
    F_NAME, F_UUID, F_PCI, F_CC, F_MEMORY, F_TEMPERATURE, F_POWER, F_POWER_LIMIT, F_CLOCK, F_MAX_CLOCK,
    F_UTILIZATION, F_CLOCKS_EVENT, F_PCIE, F_ECC_MODE, F_ECC_ERRORS, F_REMAP, F_PERSISTENCE,
    F_COMPUTE_MODE, F_MIG_MODE, F_PROCESSES, F_MIG, NFIELDS
};
static const char *FIELD_NAMES[NFIELDS] = {
    "name", "uuid", "pci", "cc", "memory", "temperature", "power", "power_limit", "clock", "max_clock",
    "utilization", "clocks_event", "pcie", "ecc_mode", "ecc_errors", "remap", "persistence",
    "compute_mode", "mig_mode", "processes", "mig",
};

#define MAX_GPUS 16
#define MAX_MIG 7
#define MAX_PROCS 16

struct nvmlDevice_st {
    int index;
    int parent; /* -1 for a physical GPU, else the GPU a MIG instance belongs to */
    char name[96];
    char uuid[96];
    char busid[32];
    unsigned int pci_device_id;
    int cc_major, cc_minor;
    unsigned long long mem_total, mem_used;
    unsigned int temperature, power_mw, power_limit_mw, sm_clock, sm_clock_max, mem_clock, utilization;
    unsigned long long clocks_event;
    unsigned int pcie_gen, pcie_gen_max, pcie_width, pcie_width_max;
    int ecc_current, ecc_pending;
    unsigned long long ecc_uncorrected;
    unsigned int remap[4];
    int persistence, compute_mode;
    unsigned int mig_current, mig_pending;
    unsigned int nprocs;
    unsigned int proc_pid[MAX_PROCS];
    unsigned long long proc_mem[MAX_PROCS];
    unsigned int nmig;
    int handle_error;
    int lost;
    int fail[NFIELDS];
    int hang[NFIELDS];
    int crash[NFIELDS];
};
typedef struct nvmlDevice_st *nvmlDevice_t;

static struct nvmlDevice_st gpus[MAX_GPUS];
static struct nvmlDevice_st migs[MAX_GPUS][MAX_MIG];
static int gpu_count = 1;
static int count_error = 0;
static int init_error = 0;
static int init_hang = 0;
static int initialised = 0;
static int loaded = 0;
static int cuda_version = 12040;
static char driver[80] = "550.54.15";
static char nvml_version[80] = "";

static void trace(const char *fn) {
    const char *path = getenv("FAKE_NVML_TRACE");
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", fn);
    if (write(fd, line, (size_t)n) < 0) { /* nothing to do */ }
    close(fd);
}

static void hang_forever(void) {
    for (;;) sleep(60);
}

static void gpu_defaults(struct nvmlDevice_st *g, int i) {
    memset(g, 0, sizeof *g);
    g->index = i;
    g->parent = -1;
    strcpy(g->name, "NVIDIA A100-SXM4-80GB");
    snprintf(g->uuid, sizeof g->uuid, "GPU-0000000%d-1111-2222-3333-444444444444", i);
    snprintf(g->busid, sizeof g->busid, "00000000:%02X:00.0", i + 1);
    g->pci_device_id = 0x20b210de; /* A100-SXM4-80GB (pci.ids 10de:20b2) */
    g->cc_major = 8;
    g->cc_minor = 0;
    g->mem_total = 85899345920ULL;
    g->mem_used = 536870912ULL;
    g->temperature = 33;
    g->power_mw = 61000;
    g->power_limit_mw = 400000;
    g->sm_clock = 210;
    g->sm_clock_max = 1410;
    g->mem_clock = 1593;
    g->clocks_event = 1; /* gpu_idle */
    g->pcie_gen = 1;
    g->pcie_gen_max = 4;
    g->pcie_width = 16;
    g->pcie_width_max = 16;
    g->ecc_current = g->ecc_pending = 1;
    g->persistence = 1;
}

static int field_of(const char *name) {
    for (int f = 0; f < NFIELDS; f++)
        if (strcmp(FIELD_NAMES[f], name) == 0) return f;
    return -1;
}

static void set_gpu(struct nvmlDevice_st *g, const char *key, const char *value) {
    if (strncmp(key, "fail.", 5) == 0 || strncmp(key, "hang.", 5) == 0) {
        int f = field_of(key + 5);
        if (f < 0) return;
        if (key[0] == 'f') g->fail[f] = atoi(value);
        else g->hang[f] = atoi(value);
    } else if (strncmp(key, "crash.", 6) == 0) {
        int f = field_of(key + 6);
        if (f >= 0) g->crash[f] = atoi(value) > 0 ? atoi(value) : 1;
    } else if (!strcmp(key, "name")) snprintf(g->name, sizeof g->name, "%s", value);
    else if (!strcmp(key, "uuid")) snprintf(g->uuid, sizeof g->uuid, "%s", value);
    else if (!strcmp(key, "busid")) snprintf(g->busid, sizeof g->busid, "%s", value);
    else if (!strcmp(key, "pci_device_id")) g->pci_device_id = (unsigned int)strtoul(value, NULL, 0);
    else if (!strcmp(key, "cc")) sscanf(value, "%d.%d", &g->cc_major, &g->cc_minor);
    else if (!strcmp(key, "memory")) sscanf(value, "%llu %llu", &g->mem_total, &g->mem_used);
    else if (!strcmp(key, "temperature")) g->temperature = (unsigned)atoi(value);
    else if (!strcmp(key, "power")) sscanf(value, "%u %u", &g->power_mw, &g->power_limit_mw);
    else if (!strcmp(key, "clocks")) sscanf(value, "%u %u %u", &g->sm_clock, &g->sm_clock_max, &g->mem_clock);
    else if (!strcmp(key, "utilization")) g->utilization = (unsigned)atoi(value);
    else if (!strcmp(key, "clocks_event")) g->clocks_event = strtoull(value, NULL, 0);
    else if (!strcmp(key, "pcie"))
        sscanf(value, "%u %u %u %u", &g->pcie_gen, &g->pcie_gen_max, &g->pcie_width, &g->pcie_width_max);
    else if (!strcmp(key, "ecc")) sscanf(value, "%d %d %llu", &g->ecc_current, &g->ecc_pending, &g->ecc_uncorrected);
    else if (!strcmp(key, "remap")) sscanf(value, "%u %u %u %u", &g->remap[0], &g->remap[1], &g->remap[2], &g->remap[3]);
    else if (!strcmp(key, "persistence")) g->persistence = atoi(value);
    else if (!strcmp(key, "compute_mode")) g->compute_mode = atoi(value);
    else if (!strcmp(key, "mig")) sscanf(value, "%u %u", &g->mig_current, &g->mig_pending);
    else if (!strcmp(key, "handle_error")) g->handle_error = atoi(value);
    else if (!strcmp(key, "lost")) g->lost = atoi(value);
    else if (!strcmp(key, "processes")) {
        const char *p = value;
        int used = 0;
        g->nprocs = 0;
        while (g->nprocs < MAX_PROCS &&
               sscanf(p, "%u:%llu%n", &g->proc_pid[g->nprocs], &g->proc_mem[g->nprocs], &used) == 2) {
            g->nprocs++;
            p += used;
        }
    } else if (!strcmp(key, "mig_uuids")) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", value);
        g->nmig = 0;
        for (char *tok = strtok(copy, " "); tok && g->nmig < MAX_MIG; tok = strtok(NULL, " ")) {
            struct nvmlDevice_st *m = &migs[g->index][g->nmig++];
            *m = *g;
            m->parent = g->index;
            snprintf(m->uuid, sizeof m->uuid, "%s", tok);
        }
    }
}

static void load_scenario(void) {
    if (loaded) return;
    loaded = 1;
    for (int i = 0; i < MAX_GPUS; i++) gpu_defaults(&gpus[i], i);
    const char *path = getenv("FAKE_NVML_SCENARIO");
    FILE *fp = path ? fopen(path, "r") : NULL;
    if (!fp) return;
    char line[1024];
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = 0;
        char *space = strchr(line, ' ');
        const char *value = space ? space + 1 : "";
        if (space) *space = 0;
        const char *key = line;
        if (!strcmp(key, "init_error")) init_error = atoi(value);
        else if (!strcmp(key, "init_hang")) init_hang = atoi(value);
        else if (!strcmp(key, "driver")) snprintf(driver, sizeof driver, "%s", value);
        else if (!strcmp(key, "nvml_version")) snprintf(nvml_version, sizeof nvml_version, "%s", value);
        else if (!strcmp(key, "cuda")) cuda_version = atoi(value);
        else if (!strcmp(key, "gpus")) gpu_count = atoi(value) < MAX_GPUS ? atoi(value) : MAX_GPUS;
        else if (!strcmp(key, "count_error")) count_error = atoi(value);
        else if (!strncmp(key, "gpu.", 4)) {
            char *dot;
            long i = strtol(key + 4, &dot, 10);
            if (*dot == '.' && i >= 0 && i < MAX_GPUS) set_gpu(&gpus[i], dot + 1, value);
        }
    }
    fclose(fp);
    if (!nvml_version[0]) snprintf(nvml_version, sizeof nvml_version, "%d.%s", cuda_version / 1000, driver);
}

/* Every device query starts here: a lost GPU, a failing field, a field that never returns. */
static nvmlReturn_t begin(nvmlDevice_t d, enum field f) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!d) return NVML_ERROR_INVALID_ARGUMENT;
    const struct nvmlDevice_st *g = d->parent >= 0 ? &gpus[d->parent] : d;
    if (g->hang[f]) hang_forever();
    if (g->crash[f]) {
        usleep((useconds_t)g->crash[f] * 1000);
        raise(SIGSEGV);
    }
    if (g->lost) return NVML_ERROR_GPU_IS_LOST;
    return g->fail[f];
}

#define BEGIN(device, field) \
    do { \
        trace(__func__); \
        nvmlReturn_t rc_ = begin((device), (field)); \
        if (rc_) return rc_; \
    } while (0)

static nvmlReturn_t copy_string(char *out, unsigned int length, const char *value) {
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(out, value);
    return NVML_SUCCESS;
}

/* ---- system ---- */

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t init(void) {
    load_scenario();
    if (init_hang) hang_forever();
    if (init_error) return init_error;
    initialised = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) { trace(__func__); return init(); }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { (void)flags; trace(__func__); return init(); }
nvmlReturn_t nvmlShutdown(void) { trace(__func__); initialised = 0; return NVML_SUCCESS; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    trace(__func__);
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    return copy_string(version, length, driver);
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    trace(__func__);
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    return copy_string(version, length, nvml_version);
}

static nvmlReturn_t cuda_driver_version(int *out) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    *out = cuda_version;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { trace(__func__); return cuda_driver_version(v); }
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { trace(__func__); return cuda_driver_version(v); }

static nvmlReturn_t device_count(unsigned int *count) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (count_error) return count_error;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = (unsigned)gpu_count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *c) { trace(__func__); return device_count(c); }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *c) { trace(__func__); return device_count(c); }

static nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t *device) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (index >= (unsigned)gpu_count || !device) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpus[index].handle_error) return gpus[index].handle_error;
    *device = &gpus[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int i, nvmlDevice_t *d) { trace(__func__); return handle_by_index(i, d); }
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) { trace(__func__); return handle_by_index(i, d); }

/* ---- one device ---- */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    BEGIN(d, F_NAME);
    return copy_string(name, length, d->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
    BEGIN(d, F_UUID);
    return copy_string(uuid, length, d->uuid);
}

static nvmlReturn_t pci_info(nvmlDevice_t d, nvmlPciInfo_t *pci) {
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    unsigned int domain = 0, bus = 0, dev = 0;
    sscanf(d->busid, "%x:%x:%x", &domain, &bus, &dev);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = dev;
    pci->pciDeviceId = d->pci_device_id;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", domain & 0xffff, bus, dev);
    snprintf(pci->busId, sizeof pci->busId, "%s", d->busid);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci) {
    BEGIN(d, F_PCI);
    return pci_info(d, pci);
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
    BEGIN(d, F_CC);
    *major = d->cc_major;
    *minor = d->cc_minor;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
    BEGIN(d, F_MEMORY);
    m->total = d->mem_total;
    m->used = d->mem_used;
    m->free = d->mem_total - d->mem_used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    BEGIN(d, F_MEMORY);
    m->total = d->mem_total;
    m->reserved = 0;
    m->used = d->mem_used;
    m->free = d->mem_total - d->mem_used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp) {
    BEGIN(d, F_TEMPERATURE);
    (void)sensor;
    *temp = d->temperature;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *power) {
    BEGIN(d, F_POWER);
    *power = d->power_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *limit) {
    BEGIN(d, F_POWER_LIMIT);
    *limit = d->power_limit_mw;
    return NVML_SUCCESS;
}

/* nvmlClockType_t: 0 graphics, 1 SM, 2 memory, 3 video */
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *clock) {
    BEGIN(d, F_CLOCK);
    *clock = type == 2 ? d->mem_clock : d->sm_clock;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned int *clock) {
    BEGIN(d, F_MAX_CLOCK);
    *clock = type == 2 ? d->mem_clock : d->sm_clock_max;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    BEGIN(d, F_UTILIZATION);
    u->gpu = d->utilization;
    u->memory = 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
    BEGIN(d, F_CLOCKS_EVENT);
    *reasons = d->clocks_event;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *reasons) {
    BEGIN(d, F_CLOCKS_EVENT);
    *reasons = d->clocks_event;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned int *v) {
    BEGIN(d, F_PCIE);
    *v = d->pcie_gen;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t d, unsigned int *v) {
    BEGIN(d, F_PCIE);
    *v = d->pcie_gen_max;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned int *v) {
    BEGIN(d, F_PCIE);
    *v = d->pcie_width;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t d, unsigned int *v) {
    BEGIN(d, F_PCIE);
    *v = d->pcie_width_max;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d, int *current, int *pending) {
    BEGIN(d, F_ECC_MODE);
    *current = d->ecc_current;
    *pending = d->ecc_pending;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int errorType, int counterType, unsigned long long *count) {
    BEGIN(d, F_ECC_ERRORS);
    (void)counterType;
    *count = errorType == 1 ? d->ecc_uncorrected : 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int *corr, unsigned int *unc, unsigned int *pending,
                                       unsigned int *failed) {
    BEGIN(d, F_REMAP);
    *corr = d->remap[0];
    *unc = d->remap[1];
    *pending = d->remap[2];
    *failed = d->remap[3];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t d, int *mode) {
    BEGIN(d, F_PERSISTENCE);
    *mode = d->persistence;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t d, int *mode) {
    BEGIN(d, F_COMPUTE_MODE);
    *mode = d->compute_mode;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *current, unsigned int *pending) {
    BEGIN(d, F_MIG_MODE);
    *current = d->mig_current;
    *pending = d->mig_pending;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t d, unsigned int *count) {
    BEGIN(d, F_MIG);
    *count = d->nmig;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t d, unsigned int index, nvmlDevice_t *mig) {
    BEGIN(d, F_MIG);
    if (d->parent >= 0 || index >= d->nmig) return NVML_ERROR_NOT_FOUND;
    *mig = &migs[d->index][index];
    return NVML_SUCCESS;
}

/* The process lists: the caller asks with *count = 0 first, then with room for what we said. */
#define PROCESS_LIST(info_t, extra)                                        \
    BEGIN(d, F_PROCESSES);                                                 \
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;                        \
    if (*count < d->nprocs || !infos) {                                    \
        unsigned int needed = d->nprocs;                                   \
        *count = needed;                                                   \
        return needed ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS;       \
    }                                                                      \
    for (unsigned int i = 0; i < d->nprocs; i++) {                         \
        info_t *p = &infos[i];                                             \
        memset(p, 0, sizeof *p);                                           \
        p->pid = d->proc_pid[i];                                           \
        p->usedGpuMemory = d->proc_mem[i];                                 \
        extra                                                              \
    }                                                                      \
    *count = d->nprocs;                                                    \
    return NVML_SUCCESS;

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_v1_t *infos) {
    PROCESS_LIST(nvmlProcessInfo_v1_t, )
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_v2_t *infos) {
    PROCESS_LIST(nvmlProcessInfo_v2_t, p->gpuInstanceId = 0xFFFFFFFF; p->computeInstanceId = 0xFFFFFFFF;)
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_v2_t *infos) {
    PROCESS_LIST(nvmlProcessInfo_v2_t, p->gpuInstanceId = 0xFFFFFFFF; p->computeInstanceId = 0xFFFFFFFF;)
}
