/* pmake MAKEFILE [JOBS [TARGET...]]: a parallel make in the spirit of
 * Sprite's pmake, running the jobs of a dependency graph on idle
 * workstations with remote execution.
 *
 * The make file (read from the file server) has one rule a line:
 *
 *     target: dep dep ... ; command arg arg ...
 *     group: dep dep ...
 *     # a comment ('#' starts a comment anywhere on a line)
 *
 * A rule with a command is a job: "command arg..." is a program on the
 * file server and its arguments (words separated by blanks; no quoting).
 * A rule without a command is a phony group, built when its dependencies
 * are. Every dependency must be a target of the file (there are no source
 * files). Blank lines are ignored; a line holds at most 255 characters.
 *
 * The goals are the TARGETs named, else the first target of the file;
 * only the rules they need run. A job whose dependencies are all built is
 * started with remote_exec(argv, "*") (any idle workstation) in the order
 * of the file, at most JOBS (default 4, 1..64) at once, one start at a
 * time. When no host answers (the "@ *" query retransmits meanwhile, so a
 * host that frees up in that time takes the job) it tries again after
 * REMOTE_DELAY_MS, and after REMOTE_TRIES failed tries runs the job here
 * (host NULL). Exit statuses come back with wait_any (PM_WAIT for any
 * child); pmake calls it only while a job runs.
 *
 * A job that exits with a non-zero status (or cannot start) fails. As with
 * make -k, pmake goes on with every job that does not depend on it, starts
 * none that does, and exits 1 at the end, after the running jobs finish.
 *
 * Output (children's own output interleaves on the same console):
 *     pmake: started TARGET               (or "... here (no idle host)")
 *     pmake: TARGET done
 *     pmake: TARGET failed (exit S)
 *     pmake: TARGET: could not start (ERROR)
 *     pmake: TARGET not built (JOB failed)   (JOB: the failed job it needs)
 * and last a line that does not depend on the scheduling:
 *     pmake: N jobs, all succeeded
 *     pmake: N jobs, K failed[, M not started]
 * Never prints pids, hosts or times. Exit status 0, 1 (a job failed) or 2
 * (usage, an unreadable or malformed make file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <v.h>

#define FILE_MAX 65536L
#define LINE_MAX_CHARS 255
#define TARGETS_MAX 256
#define DEPS_MAX 2048
#define WORDS_MAX 2048
#define ARGS_MAX 32
#define JOBS_DEFAULT 4
#define JOBS_MAX 64
#define REMOTE_TRIES 3
#define REMOTE_DELAY_MS 200

enum state { WAITING, RUNNING, DONE, FAILED, SKIPPED };

struct target {
    char *name;
    int line;
    int ndeps;
    int dep0;      /* first index in deps[] (names until resolved) */
    int argc;      /* 0: a phony group */
    int arg0;      /* first index in words[] */
    int needed;    /* reachable from a goal */
    int mark;      /* depth-first search: 0 new, 1 on the path, 2 finished */
    enum state state;
    int cause;     /* FAILED: itself; SKIPPED: the failed job it waited for */
    ProcessId pid; /* while RUNNING */
};

static struct target targets[TARGETS_MAX];
static int ntargets;
static char *dep_names[DEPS_MAX];
static int deps[DEPS_MAX];
static int ndeps;
static char *words[WORDS_MAX];
static int nwords;
static const char *makefile;

static void __attribute__((noreturn)) die(int line, const char *what, const char *name)
{
    fflush(stdout);
    if (line)
        fprintf(stderr, "pmake: %s:%d: %s%s%s\n", makefile, line, what, name ? " " : "", name ? name : "");
    else
        fprintf(stderr, "pmake: %s%s%s\n", what, name ? " " : "", name ? name : "");
    exit(2);
}

/* The whole make file, NUL-terminated; exits 2 if it cannot be read. */
static char *read_makefile(const char *name)
{
    long size = 0, cap = 4096, n;
    char *buf = malloc((size_t)cap + 1);
    int fd = vopen(name, FS_MODE_READ);

    if (fd < 0) {
        fprintf(stderr, "pmake: %s: %s\n", name, verror(fd));
        exit(2);
    }
    if (!buf)
        die(0, "out of memory", NULL);
    for (;;) {
        if (size == cap) {
            if (cap >= FILE_MAX)
                die(0, "make file too large:", name);
            cap *= 2;
            buf = realloc(buf, (size_t)cap + 1);
            if (!buf)
                die(0, "out of memory", NULL);
        }
        n = vread(fd, buf + size, (unsigned long)(cap - size));
        if (n < 0) {
            fprintf(stderr, "pmake: %s: %s\n", name, verror(n));
            exit(2);
        }
        if (n == 0)
            break;
        size += n;
    }
    vclose(fd);
    buf[size] = 0;
    return buf;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int find(const char *name)
{
    int i;

    for (i = 0; i < ntargets; i++)
        if (strcmp(targets[i].name, name) == 0)
            return i;
    return -1;
}

/* Split s into blank-separated words (in place) appended to list; returns how many. */
static int split(char *s, char **list, int *count, int max, int line)
{
    int n = 0;

    for (;;) {
        while (is_blank(*s))
            s++;
        if (!*s)
            return n;
        if (*count >= max)
            die(line, "too many words", NULL);
        list[(*count)++] = s;
        n++;
        while (*s && !is_blank(*s))
            s++;
        if (*s)
            *s++ = 0;
    }
}

static void parse_line(char *s, int line)
{
    char *colon, *semi, *hash, *tend;
    struct target *t;
    int i;

    if (strlen(s) > LINE_MAX_CHARS)
        die(line, "line too long", NULL);
    hash = strchr(s, '#');
    if (hash)
        *hash = 0;
    for (i = 0; s[i]; i++)
        if (!is_blank(s[i]))
            break;
    if (!s[i])
        return; /* blank or a comment */
    colon = strchr(s, ':');
    if (!colon)
        die(line, "expected 'target: deps ; command'", NULL);
    *colon = 0;
    /* the target: exactly one word */
    while (is_blank(*s))
        s++;
    for (tend = s; *tend && !is_blank(*tend); tend++)
        ;
    for (i = 0; tend[i]; i++)
        if (!is_blank(tend[i]))
            break;
    if (tend == s || tend[i])
        die(line, "expected one target before ':'", NULL);
    *tend = 0;
    if (find(s) >= 0)
        die(line, "a second rule for", s);
    if (ntargets == TARGETS_MAX)
        die(line, "too many targets", NULL);
    t = &targets[ntargets++];
    t->name = s;
    t->line = line;
    semi = strchr(colon + 1, ';');
    if (semi)
        *semi = 0;
    t->dep0 = ndeps;
    t->ndeps = split(colon + 1, dep_names, &ndeps, DEPS_MAX, line);
    t->arg0 = nwords;
    t->argc = 0;
    if (semi) {
        t->argc = split(semi + 1, words, &nwords, WORDS_MAX, line);
        if (t->argc == 0)
            die(line, "empty command after ';' for", t->name);
        if (t->argc >= ARGS_MAX)
            die(line, "too many arguments for", t->name);
    }
    t->state = WAITING;
}

static void parse(char *text)
{
    int line = 1;
    char *s = text, *nl;
    int i, j;

    while (*s) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        parse_line(s, line);
        if (!nl)
            break;
        s = nl + 1;
        line++;
    }
    if (ntargets == 0)
        die(0, "no rules in", makefile);
    for (i = 0; i < ntargets; i++) {
        struct target *t = &targets[i];
        for (j = 0; j < t->ndeps; j++) {
            int d = find(dep_names[t->dep0 + j]);
            if (d < 0)
                die(t->line, "no rule for", dep_names[t->dep0 + j]);
            deps[t->dep0 + j] = d;
        }
    }
}

/* Mark what goal i needs; a dependency cycle is an error. */
static void need(int i)
{
    struct target *t = &targets[i];
    int j;

    if (t->mark == 2)
        return;
    if (t->mark == 1)
        die(t->line, "dependency cycle through", t->name);
    t->mark = 1;
    for (j = 0; j < t->ndeps; j++)
        need(deps[t->dep0 + j]);
    t->mark = 2;
    t->needed = 1;
}

/* Settle what no job has to run for: phony groups whose dependencies are
 * built are built; a target with a failed (or not built) dependency will
 * not be built. Repeats until nothing changes; prints each such target. */
static void settle(void)
{
    int changed = 1, i, j;

    while (changed) {
        changed = 0;
        for (i = 0; i < ntargets; i++) {
            struct target *t = &targets[i];
            int all_done = 1, blocker = -1;

            if (!t->needed || t->state != WAITING)
                continue;
            for (j = 0; j < t->ndeps; j++) {
                enum state s = targets[deps[t->dep0 + j]].state;
                if (s == FAILED || s == SKIPPED) {
                    if (blocker < 0)
                        blocker = deps[t->dep0 + j];
                } else if (s != DONE) {
                    all_done = 0;
                }
            }
            if (blocker >= 0) {
                t->state = SKIPPED;
                t->cause = targets[blocker].cause;
                printf("pmake: %s not built (%s failed)\n", t->name, targets[t->cause].name);
                changed = 1;
            } else if (all_done && t->argc == 0) {
                t->state = DONE;
                changed = 1;
            }
        }
    }
}

/* The first job (in the file's order) that can start, or -1. */
static int next_ready(void)
{
    int i, j;

    for (i = 0; i < ntargets; i++) {
        struct target *t = &targets[i];
        if (!t->needed || t->argc == 0 || t->state != WAITING)
            continue;
        for (j = 0; j < t->ndeps; j++)
            if (targets[deps[t->dep0 + j]].state != DONE)
                break;
        if (j == t->ndeps)
            return i;
    }
    return -1;
}

/* No host took the program (nobody answered, or nobody could): try again. */
static int no_host(long err)
{
    return err == -ETIMEOUT || err == -ENOPROC || err == -ENOMEM;
}

static void start(struct target *t)
{
    char *argv[ARGS_MAX + 1];
    ProcessId pid = -ETIMEOUT;
    int i, here = 0;

    for (i = 0; i < t->argc; i++)
        argv[i] = words[t->arg0 + i];
    argv[t->argc] = NULL;
    for (i = 0; i < REMOTE_TRIES; i++) {
        if (i > 0)
            Delay(REMOTE_DELAY_MS);
        pid = remote_exec(argv, "*");
        if (!no_host(pid))
            break;
    }
    if (no_host(pid)) {
        here = 1;
        pid = remote_exec(argv, NULL);
    }
    if (pid < 0) {
        t->state = FAILED;
        t->cause = (int)(t - targets);
        printf("pmake: %s: could not start (%s)\n", t->name, verror(pid));
        return;
    }
    t->state = RUNNING;
    t->pid = pid;
    printf("pmake: started %s%s\n", t->name, here ? " here (no idle host)" : "");
}

int main(int argc, char **argv, char **envp)
{
    long jobs = JOBS_DEFAULT, status;
    int running = 0, njobs = 0, failed = 0, skipped = 0, i;
    char *end;

    if (argc >= 3) {
        jobs = strtol(argv[2], &end, 10);
        if (end == argv[2] || *end || jobs < 1 || jobs > JOBS_MAX)
            jobs = -1;
    }
    if (argc < 2 || jobs < 0) {
        fprintf(stderr, "usage: pmake MAKEFILE [JOBS [TARGET...]] (JOBS 1..%d, default %d)\n", JOBS_MAX,
                JOBS_DEFAULT);
        return 2;
    }
    makefile = argv[1];
    parse(read_makefile(makefile));
    if (argc > 3) {
        for (i = 3; i < argc; i++) {
            int g = find(argv[i]);
            if (g < 0)
                die(0, "no rule for", argv[i]);
            need(g);
        }
    } else {
        need(0);
    }
    for (i = 0; i < ntargets; i++)
        if (targets[i].needed && targets[i].argc)
            njobs++;

    for (;;) {
        ProcessId pid;
        struct target *t = NULL;

        settle();
        while (running < jobs && (i = next_ready()) >= 0) {
            start(&targets[i]);
            if (targets[i].state == RUNNING)
                running++;
            else
                settle();
        }
        if (running == 0)
            break;
        pid = wait_any(&status);
        if (pid < 0) {
            fflush(stdout);
            fprintf(stderr, "pmake: waiting for jobs: %s\n", verror(pid));
            return 2;
        }
        for (i = 0; i < ntargets; i++)
            if (targets[i].state == RUNNING && targets[i].pid == pid)
                t = &targets[i];
        if (!t)
            continue; /* not one of ours */
        running--;
        if (status == 0) {
            t->state = DONE;
            printf("pmake: %s done\n", t->name);
        } else {
            t->state = FAILED;
            t->cause = (int)(t - targets);
            printf("pmake: %s failed (exit %ld)\n", t->name, status);
        }
    }

    for (i = 0; i < ntargets; i++) {
        struct target *t = &targets[i];
        if (!t->needed || !t->argc)
            continue;
        if (t->state == FAILED)
            failed++;
        else if (t->state != DONE)
            skipped++;
    }
    if (failed == 0 && skipped == 0) {
        printf("pmake: %d jobs, all succeeded\n", njobs);
        return 0;
    }
    if (skipped)
        printf("pmake: %d jobs, %d failed, %d not started\n", njobs, failed, skipped);
    else
        printf("pmake: %d jobs, %d failed\n", njobs, failed);
    return 1;
}
