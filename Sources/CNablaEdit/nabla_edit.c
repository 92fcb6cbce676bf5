#include "nabla_edit.h"

#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            history(editor->history, &editor->event, H_LOAD, history_path);
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
    if (editor->history_path) history(editor->history, &editor->event, H_SAVE, editor->history_path);
}
