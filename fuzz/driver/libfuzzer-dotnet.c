// libFuzzer driver for a SharpFuzz .NET harness (docs/fuzzing.md; built by scripts/fuzz.sh with
// clang -fsanitize=fuzzer). libFuzzer runs in this process; the .NET harness runs in a child started once at
// initialization, and every input crosses over in shared memory:
//
//   shared memory (System V, id in __LIBFUZZER_SHM_ID): [ 64 KiB edge counters | up to 1 MiB input ]
//   control pipe (fd 198, __LIBFUZZER_CONTROL_PIPE_ID): driver -> harness, the input's length (int32)
//   status pipe  (fd 199, __LIBFUZZER_STATUS_PIPE_ID):  harness -> driver, int32 0 = ok, otherwise an exception
//
// This is the protocol SharpFuzz's Fuzzer.LibFuzzer.Run speaks (SharpFuzz 2.x). The harness's instrumented
// assemblies count edges into the first 64 KiB; after each input they are copied into a section libFuzzer reads as
// extra coverage counters. An exception in the harness, or the harness dying (a crash of the runtime, a stack
// overflow, running out of memory), aborts this process so that libFuzzer saves the input as a crash.
//
// Usage: driver [libFuzzer flags] --target_path=HARNESS [--target_arg=ARG] [CORPUS...]
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <unistd.h>

#define MAP_SIZE (1 << 16)
#define DATA_SIZE (1 << 20)
#define CTL_FD 198
#define ST_FD 199

// Not static and marked used: the driver only writes the counters (libFuzzer reads them through the section's
// bounds), and a static array that is only written is removed by the optimizer, with all coverage.
__attribute__((used, section("__libfuzzer_extra_counters"))) uint8_t libfuzzer_dotnet_counters[MAP_SIZE];

static int s_ctl = -1;
static int s_st = -1;
static int s_shm = -1;
static uint8_t *s_shared;
static pid_t s_child;
static uint8_t s_seen[MAP_SIZE]; // every counter any input touched: the edges covered, printed at exit

static void fail(const char *what)
{
    fprintf(stderr, "libfuzzer-dotnet: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static void cleanup(void)
{
    if (s_shared != NULL)
    {
        unsigned edges = 0;
        for (size_t i = 0; i < MAP_SIZE; i++)
        {
            edges += s_seen[i] != 0;
        }

        fprintf(stderr, "libfuzzer-dotnet: edges covered: %u of %d\n", edges, MAP_SIZE);
    }

    if (s_shm >= 0)
    {
        shmctl(s_shm, IPC_RMID, NULL);
    }

    if (s_child > 0)
    {
        kill(s_child, SIGKILL);
    }
}

static const char *flag(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
    {
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=' && argv[i][n + 1] != '\0')
        {
            return argv[i] + n + 1;
        }
    }

    return NULL;
}

static int read_all(int fd, void *buffer, size_t size)
{
    size_t done = 0;
    while (done < size)
    {
        ssize_t r = read(fd, (char *)buffer + done, size - done);
        if (r < 0 && errno == EINTR)
        {
            continue;
        }

        if (r <= 0)
        {
            return 0;
        }

        done += (size_t)r;
    }

    return 1;
}

static int write_all(int fd, const void *buffer, size_t size)
{
    size_t done = 0;
    while (done < size)
    {
        ssize_t w = write(fd, (const char *)buffer + done, size - done);
        if (w < 0 && errno == EINTR)
        {
            continue;
        }

        if (w <= 0)
        {
            return 0;
        }

        done += (size_t)w;
    }

    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = flag(*argc, *argv, "--target_path");
    const char *arg = flag(*argc, *argv, "--target_arg");
    if (path == NULL)
    {
        fprintf(stderr, "libfuzzer-dotnet: name the harness with --target_path=PATH\n");
        exit(1);
    }

    int ctl[2], st[2];
    if (pipe(ctl) != 0 || pipe(st) != 0)
    {
        fail("pipe");
    }

    s_shm = shmget(IPC_PRIVATE, MAP_SIZE + DATA_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (s_shm < 0)
    {
        fail("shmget");
    }

    atexit(cleanup);
    s_shared = shmat(s_shm, NULL, 0);
    if (s_shared == (void *)-1)
    {
        fail("shmat");
    }

    s_child = fork();
    if (s_child < 0)
    {
        fail("fork");
    }

    if (s_child == 0)
    {
        // The harness dies with the driver (libFuzzer leaves by _exit on a timeout, without atexit handlers).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(ctl[0], CTL_FD) < 0 || dup2(st[1], ST_FD) < 0)
        {
            fail("dup2");
        }

        close(ctl[0]);
        close(ctl[1]);
        close(st[0]);
        close(st[1]);
        char id[16];
        snprintf(id, sizeof id, "%d", s_shm);
        setenv("__LIBFUZZER_SHM_ID", id, 1);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", "198", 1);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", "199", 1);
        execl(path, path, arg, (char *)NULL);
        fail("exec of the harness");
    }

    close(ctl[0]);
    close(st[1]);
    s_ctl = ctl[1];
    s_st = st[0];
    int32_t ready;
    if (!read_all(s_st, &ready, sizeof ready))
    {
        fprintf(stderr, "libfuzzer-dotnet: the harness did not start (see its output above)\n");
        exit(1);
    }

    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > DATA_SIZE)
    {
        return -1; // not added to the corpus; scripts/fuzz.sh passes -max_len below this
    }

    memset(s_shared, 0, MAP_SIZE);
    memcpy(s_shared + MAP_SIZE, data, size);
    int32_t length = (int32_t)size;
    if (!write_all(s_ctl, &length, sizeof length))
    {
        fprintf(stderr, "libfuzzer-dotnet: the harness is gone\n");
        abort();
    }

    int32_t status;
    if (!read_all(s_st, &status, sizeof status))
    {
        fprintf(stderr, "libfuzzer-dotnet: the harness died on this input\n");
        abort();
    }

    memcpy(libfuzzer_dotnet_counters, s_shared, MAP_SIZE);
    for (size_t i = 0; i < MAP_SIZE; i++)
    {
        s_seen[i] |= s_shared[i];
    }

    if (status != 0)
    {
        fprintf(stderr, "libfuzzer-dotnet: the harness threw on this input (its message is above)\n");
        abort();
    }

    return 0;
}
