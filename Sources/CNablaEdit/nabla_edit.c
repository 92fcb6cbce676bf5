#include "nabla_edit.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/// Lines longer than this are kept for the session but not written to the history file.
#define NABLA_HISTORY_LINE_MAX 65536

struct nabla_editor {
    EditLine *el;
    History *history;
    HistEvent event;
    char *history_path;
    char prompt[256];
    char *line;
    nabla_complete_fn complete;
    void *context;
};

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int signo) {
    (void)signo;
    interrupted = 1;
}

/// The terminal went away (window closed, ssh dropped) or we were asked to stop:
/// end as the signal says. libedit puts the terminal back before it passes the
/// signal on; without this, nabla lingered on a dead terminal.
static void on_hangup(int signo) {
    signal(signo, SIG_DFL);
    raise(signo);
}

void nabla_install_interrupt_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &action, NULL);
    struct sigaction hangup;
    memset(&hangup, 0, sizeof hangup);
    hangup.sa_handler = on_hangup;
    sigemptyset(&hangup.sa_mask);
    hangup.sa_flags = SA_RESETHAND;
    sigaction(SIGHUP, &hangup, NULL);
    sigaction(SIGTERM, &hangup, NULL);
}

int nabla_take_interrupt(void) {
    int was = interrupted;
    interrupted = 0;
    return was;
}

int nabla_peek_interrupt(void) { return interrupted; }

static char *prompt_of(EditLine *el) {
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    return data ? ((nabla_editor *)data)->prompt : "";
}

/// TAB: ask Swift what to insert, or which candidates to list.
static unsigned char complete(EditLine *el, int ch) {
    (void)ch;
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    nabla_editor *editor = data;
    if (!editor || !editor->complete) return CC_ERROR;
    const LineInfo *info = el_line(el);
    size_t n = (size_t)(info->cursor - info->buffer);
    char *before = malloc(n + 1);
    if (!before) return CC_ERROR;
    memcpy(before, info->buffer, n);
    before[n] = 0;
    char *answer = editor->complete(editor->context, before);
    free(before);
    if (!answer) return CC_ERROR;
    char *newline = strchr(answer, '\n');
    if (newline) *newline = 0;
    unsigned char result = CC_REFRESH;
    if (answer[0]) {
        el_insertstr(el, answer);
    } else if (newline && newline[1]) {
        fprintf(stdout, "\n%s\n", newline + 1);
        fflush(stdout);
        result = CC_REDISPLAY;
    } else {
        result = CC_ERROR;  // nothing to complete: beep
    }
    free(answer);
    return result;
}

/// Counts the lines of an open file (the history file's entries, plus its cookie line).
static long count_lines(int fd) {
    char buffer[65536];
    long lines = 0;
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < n; i++) lines += buffer[i] == '\n';
    }
    return lines;
}

/// Loads the history file under an exclusive lock; when other sessions' appends have grown
/// it past twice the history size, rewrites it (through a temporary file renamed over the
/// real file, a symlink's target when the history file is a link) with the newest entries.
/// A session that opened the file just before the rename may append its next line to the
/// old file: at most one line, once per 1,000 entered.
static void load_history(nabla_editor *editor, int history_size) {
    int fd = open(editor->history_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return;
    }
    flock(fd, LOCK_EX);
    history(editor->history, &editor->event, H_LOAD, editor->history_path);
    char *real = realpath(editor->history_path, NULL);
    const char *target = real ? real : editor->history_path;
    if (count_lines(fd) > 2L * history_size + 1) {
        size_t n = strlen(target);
        char *temporary = malloc(n + 16);
        if (temporary) {
            snprintf(temporary, n + 16, "%s.XXXXXX", target);
            int out = mkstemp(temporary);
            if (out >= 0) {
                close(out);
                if (history(editor->history, &editor->event, H_SAVE, temporary) >= 0 && rename(temporary, target) == 0) {
                    chmod(target, info.st_mode & 07777);
                } else {
                    unlink(temporary);
                }
            }
            free(temporary);
        }
    }
    free(real);
    flock(fd, LOCK_UN);
    close(fd);
}

/// Appends one entry to the history file, encoded as libedit writes it (the cookie line,
/// then one entry per line with whitespace, control characters and backslashes as octal
/// escapes, which libedit's loader decodes), under an exclusive lock: two sessions
/// interleave their lines and neither loses the other's.
static void append_history(const char *path, const char *line) {
    size_t n = strlen(line);
    if (n > NABLA_HISTORY_LINE_MAX) return;
    char *encoded = malloc(4 * n + 2);
    if (!encoded) return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\\' || c <= ' ' || c == 0x7f) {
            k += (size_t)sprintf(encoded + k, "\\%03o", c);
        } else {
            encoded[k++] = (char)c;
        }
    }
    encoded[k++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    struct stat info;
    if (fd >= 0 && fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && flock(fd, LOCK_EX) == 0) {
        static const char cookie[] = "_HiStOrY_V2_\n";
        if (fstat(fd, &info) == 0 && info.st_size == 0) (void)!write(fd, cookie, sizeof cookie - 1);
        (void)!write(fd, encoded, k);
        flock(fd, LOCK_UN);
    }
    if (fd >= 0) close(fd);
    free(encoded);
}

nabla_editor *nabla_editor_open(const char *program, const char *history_path, int history_size,
                                nabla_complete_fn complete_fn, void *context) {
    setlocale(LC_CTYPE, "");
    nabla_editor *editor = calloc(1, sizeof *editor);
    if (!editor) return NULL;
    editor->el = el_init(program, stdin, stdout, stderr);
    if (!editor->el) {
        free(editor);
        return NULL;
    }
    editor->complete = complete_fn;
    editor->context = context;
    el_set(editor->el, EL_CLIENTDATA, editor);
    el_set(editor->el, EL_PROMPT, prompt_of);
    el_set(editor->el, EL_EDITOR, "emacs");
    el_set(editor->el, EL_SIGNAL, 1);
    el_set(editor->el, EL_ADDFN, "nabla-complete", "complete a name", complete);
    el_set(editor->el, EL_BIND, "^I", "nabla-complete", (const char *)NULL);
    el_set(editor->el, EL_BIND, "^R", "em-inc-search-prev", (const char *)NULL);

    editor->history = history_init();
    if (editor->history) {
        history(editor->history, &editor->event, H_SETSIZE, history_size);
        history(editor->history, &editor->event, H_SETUNIQUE, 1);
        if (history_path) {
            editor->history_path = strdup(history_path);
            load_history(editor, history_size);
        }
        el_set(editor->el, EL_HIST, history, editor->history);
    }
    nabla_install_interrupt_handler();
    return editor;
}

void nabla_editor_close(nabla_editor *editor) {
    if (!editor) return;
    if (editor->history) history_end(editor->history);
    el_end(editor->el);
    free(editor->history_path);
    free(editor->line);
    free(editor);
}

const char *nabla_editor_read(nabla_editor *editor, const char *prompt, int *status) {
    snprintf(editor->prompt, sizeof editor->prompt, "%s", prompt);
    interrupted = 0;
    int count = 0;
    errno = 0;
    const char *line = el_gets(editor->el, &count);
    if (!line) {
        if (count == -1 && (errno == EINTR || interrupted)) {
            interrupted = 0;
            *status = NABLA_READ_INTERRUPTED;
        } else {
            *status = NABLA_READ_EOF;
        }
        return NULL;
    }
    if (interrupted) {  // Ctrl-C arrived as the line was finished
        interrupted = 0;
        *status = NABLA_READ_INTERRUPTED;
        return NULL;
    }
    free(editor->line);
    editor->line = strdup(line);
    if (!editor->line) {
        *status = NABLA_READ_EOF;
        return NULL;
    }
    size_t n = strlen(editor->line);
    while (n > 0 && (editor->line[n - 1] == '\n' || editor->line[n - 1] == '\r')) editor->line[--n] = 0;
    *status = NABLA_READ_LINE;
    return editor->line;
}

void nabla_editor_remember(nabla_editor *editor, const char *line) {
    if (!editor->history || !line[0]) return;
    history(editor->history, &editor->event, H_ENTER, line);
    if (editor->history_path) append_history(editor->history_path, line);
}

int nabla_finish_output(void) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) return errno ? errno : EIO;
    return 0;
}

void nabla_output_by_lines(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
