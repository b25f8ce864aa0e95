/*
 * spawnChild and waitChild: a child process started without Node's
 * child_process, for the clang a compile starts before its arguments exist
 * (prestartClang in src/compile/clang.ts). Node's spawn() took ~8 ms of the
 * main thread for each clang of a first compile (its ChildProcess, the
 * stream sockets of its pipes, and loading the module the first time; Node
 * 20), against ~1 ms here (child_main says how it starts). The child's stdio are
 * the file descriptors the caller gives (a pipe to read its arguments from,
 * files in the compile's work directory for what it prints).
 *
 * spawnChild(path, args, cwd, [stdinFd, stdoutFd, stderrFd], apart?) → pid: starts
 * a child that resets signal dispositions and the signal mask (as
 * libuv's spawn does: Node ignores SIGPIPE, and an ignored signal stays
 * ignored across exec), puts the three descriptors on 0, 1 and 2, changes
 * to cwd and executes path with args (args[0] included) and this process's
 * environment. A failed chdir or exec throws with its errno (ENOENT for a
 * missing clang) and leaves no child behind. With `apart`, the child may run
 * only on the CPUs the caller may use other than the one it runs on (when
 * there are such), until childAnyCpu(pid) lets it run on all of them again:
 * a clang started early spends its first ~75 ms of CPU in the dynamic
 * loader while the caller's main thread is busy too, and the scheduler
 * tends to put a child woken at its exec on its parent's CPU (wake-affine
 * placement), where the two then took turns for tens of ms although
 * another CPU was free (seen with `perf sched timehist`, kernel 6.18, two
 * CPUs: the library's first import 36-52 ms with the two apart, 66-77 ms
 * sharing one).
 *
 * childAnyCpu(pid) → boolean: lets the child run on every CPU the caller
 * may use; false when it has ended.
 *
 * waitChild(pid) → Promise<{ code, signal }>: waits for the child on a
 * thread of libuv's pool (waitpid), so the event loop runs meanwhile and
 * the child is reaped. code is the exit status (null when a signal ended
 * it), signal the signal's number (null otherwise). libuv reaps only the
 * children it started itself, so nothing else waits for this one.
 */
#define _GNU_SOURCE /* clone */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addon.h"
#include "util.h"

/* Puts fds[0..2] on 0..2 in the child: first moved above 2, so that no dup2 overwrites a source. */
static int child_stdio(const int fds[3])
{
    int high[3];
    for (int i = 0; i < 3; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        if (high[i] < 0)
            return errno;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(high[i], i) < 0)
            return errno;
    return 0;
}

struct child_args {
    const char *path;
    char *const *argv;
    const char *cwd;
    const int *fds;
    /* The CPUs the child may run on (NULL: as the parent). */
    const cpu_set_t *cpus;
    /* Set by the child when it cannot exec (the memory is the parent's: CLONE_VM). */
    int err;
};

/*
 * The child, on its own stack in the parent's memory until it executes
 * (CLONE_VM | CLONE_VFORK, as glibc's posix_spawn does: a fork() of Node
 * took 4-19 ms here, copying and write-protecting the page tables of a
 * process with several threads, against ~0.5 ms): only async-signal-safe
 * calls, and nothing the parent's memory cannot afford. It has its own
 * signal handlers, file descriptors and working directory (no CLONE_SIGHAND,
 * CLONE_FILES or CLONE_FS), so changing them leaves the parent's alone. All
 * signals are blocked from before the clone, so no handler of the parent's
 * runs here before the dispositions are reset.
 */
static int child_main(void *arg)
{
    struct child_args *a = arg;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL); /* (numbers without a signal fail harmlessly) */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (a->cpus)
        sched_setaffinity(0, sizeof(*a->cpus), a->cpus); /* (a hint: its failure is harmless) */
    int err = child_stdio(a->fds);
    if (!err && chdir(a->cwd) != 0)
        err = errno;
    if (!err) {
        execv(a->path, a->argv);
        err = errno;
    }
    a->err = err ? err : EIO;
    _exit(127);
}

/* The child's stack while it runs before its exec. */
#define CHILD_STACK (64 * 1024)

/* The CPUs this thread may use other than the one it runs on; false when there are none. */
static bool other_cpus(cpu_set_t *out)
{
    if (sched_getaffinity(0, sizeof(*out), out) != 0)
        return false;
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, out) || CPU_COUNT(out) < 2)
        return false;
    CPU_CLR(cpu, out);
    return true;
}

/* spawnChild(path, args, cwd, stdio, apart?) */
napi_value tsbpf_spawn_child(napi_env env, napi_callback_info info)
{
    static const char op[] = "spawnChild";
    napi_value argv[5] = {NULL};
    bool apart = false;
    cpu_set_t cpus;
    char *path = NULL, *cwd = NULL;
    char **args = NULL;
    uint32_t nargs = 0;
    char **exec_argv = NULL;
    napi_value result = NULL;
    int fds[3];
    if (!tsbpf_get_args_opt(env, info, op, 4, 5, argv) ||
        !tsbpf_arg_string(env, argv[0], op, "path", &path) ||
        !tsbpf_arg_strings(env, argv[1], op, "args", &args, &nargs) ||
        !tsbpf_arg_string(env, argv[2], op, "cwd", &cwd))
        goto done;
    for (uint32_t i = 0; i < 3; i++) {
        napi_value v;
        if (napi_get_element(env, argv[3], i, &v) != napi_ok) {
            tsbpf_throw_napi(env, "napi_get_element");
            goto done;
        }
        if (!tsbpf_arg_int32(env, v, op, "stdio", &fds[i]))
            goto done;
    }
    if (nargs == 0) {
        tsbpf_throw(env, op, EINVAL);
        goto done;
    }
    napi_valuetype t = napi_undefined;
    if (argv[4] && napi_typeof(env, argv[4], &t) == napi_ok && t != napi_undefined &&
        t != napi_null && !tsbpf_arg_bool(env, argv[4], op, "apart", &apart))
        goto done;
    /* (made before the clone: the child must not allocate) */
    exec_argv = calloc(nargs + 1, sizeof(*exec_argv));
    if (!exec_argv) {
        tsbpf_throw(env, op, ENOMEM);
        goto done;
    }
    for (uint32_t i = 0; i < nargs; i++)
        exec_argv[i] = args[i];

    void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        tsbpf_throw(env, "mmap", errno);
        goto done;
    }
    struct child_args a = {.path = path,
                           .argv = exec_argv,
                           .cwd = cwd,
                           .fds = fds,
                           .cpus = apart && other_cpus(&cpus) ? &cpus : NULL,
                           .err = 0};
    sigset_t all, old;
    sigfillset(&all);
    /* (the calling thread's mask on Linux, as pthread_sigmask, which needs glibc 2.32 where it is
     * not in libpthread) */
    sigprocmask(SIG_SETMASK, &all, &old);
    /* (the stack grows down on the architectures built for) */
    pid_t pid =
        clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    munmap(stack, CHILD_STACK);
    if (pid < 0) {
        tsbpf_throw(env, "clone", clone_err);
        goto done;
    }
    /* The parent resumes once the child has executed or exited. */
    if (a.err) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        tsbpf_throw(env, "exec", a.err);
        goto done;
    }
    result = tsbpf_int32(env, pid);

done:
    free(exec_argv);
    tsbpf_free_strings(args, nargs);
    free(path);
    free(cwd);
    return result;
}

struct wait_work {
    napi_async_work work;
    napi_deferred deferred;
    pid_t pid;
    int status;
    int err;
};

static void wait_execute(napi_env env, void *data)
{
    (void)env;
    struct wait_work *w = data;
    while (waitpid(w->pid, &w->status, 0) < 0) {
        if (errno != EINTR) {
            w->err = errno;
            return;
        }
    }
}

static void wait_complete(napi_env env, napi_status status, void *data)
{
    struct wait_work *w = data;
    napi_value result = NULL, error = NULL;
    if (status != napi_ok || w->err) {
        int err = w->err ? w->err : ECANCELED;
        napi_value code, msg;
        if (napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg) == napi_ok &&
            napi_create_string_utf8(env, "waitChild", NAPI_AUTO_LENGTH, &code) == napi_ok &&
            napi_create_error(env, NULL, msg, &error) == napi_ok) {
            napi_value errno_v = tsbpf_int32(env, err);
            if (errno_v)
                napi_set_named_property(env, error, "errno", errno_v);
        }
    } else if (napi_create_object(env, &result) == napi_ok) {
        bool exited = WIFEXITED(w->status);
        napi_value code = exited ? tsbpf_int32(env, WEXITSTATUS(w->status)) : tsbpf_null(env);
        napi_value sig =
            WIFSIGNALED(w->status) ? tsbpf_int32(env, WTERMSIG(w->status)) : tsbpf_null(env);
        if (!code || !sig || !tsbpf_set_prop(env, result, "code", code) ||
            !tsbpf_set_prop(env, result, "signal", sig))
            result = NULL;
    }
    if (result)
        napi_resolve_deferred(env, w->deferred, result);
    else {
        if (!error) {
            napi_value pending;
            bool is_pending = false;
            if (napi_is_exception_pending(env, &is_pending) == napi_ok && is_pending)
                napi_get_and_clear_last_exception(env, &pending);
            else
                pending = NULL;
            error = pending;
        }
        if (!error)
            napi_get_undefined(env, &error);
        napi_reject_deferred(env, w->deferred, error);
    }
    napi_delete_async_work(env, w->work);
    free(w);
}

/* The one argument of waitChild and childAnyCpu, a child's pid; false with an exception pending. */
static bool arg_pid(napi_env env, napi_callback_info info, const char *op, int32_t *pid)
{
    napi_value argv[1];
    if (!tsbpf_get_args(env, info, op, 1, argv, NULL) ||
        !tsbpf_arg_int32(env, argv[0], op, "pid", pid))
        return false;
    if (*pid <= 0) {
        tsbpf_throw(env, op, EINVAL);
        return false;
    }
    return true;
}

/* waitChild(pid) */
napi_value tsbpf_wait_child(napi_env env, napi_callback_info info)
{
    static const char op[] = "waitChild";
    napi_value promise, name;
    int32_t pid;
    if (!arg_pid(env, info, op, &pid))
        return NULL;
    struct wait_work *w = calloc(1, sizeof(*w));
    if (!w)
        return tsbpf_throw(env, op, ENOMEM);
    w->pid = pid;
    if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
        napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_async_work(env, NULL, name, wait_execute, wait_complete, w, &w->work) !=
            napi_ok ||
        napi_queue_async_work(env, w->work) != napi_ok) {
        free(w);
        return tsbpf_throw_napi(env, "napi_create_async_work");
    }
    return promise;
}

/* childAnyCpu(pid) */
napi_value tsbpf_child_any_cpu(napi_env env, napi_callback_info info)
{
    static const char op[] = "childAnyCpu";
    int32_t pid;
    if (!arg_pid(env, info, op, &pid))
        return NULL;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0)
        return tsbpf_throw(env, "sched_getaffinity", errno);
    if (sched_setaffinity(pid, sizeof(cpus), &cpus) == 0)
        return tsbpf_bool(env, true);
    if (errno == ESRCH)
        return tsbpf_bool(env, false);
    return tsbpf_throw(env, "sched_setaffinity", errno);
}
