// A small C wall around libedit (histedit.h): el_set, el_get and history()
// are variadic, which Swift cannot call, and the SIGINT flag must live in C.
#ifndef NABLA_EDIT_H
#define NABLA_EDIT_H

typedef struct nabla_editor nabla_editor;

/// What nabla_editor_read returned.
enum nabla_read_status {
    NABLA_READ_LINE = 0,         ///< a line (without its newline)
    NABLA_READ_EOF = 1,          ///< Ctrl-D on an empty line
    NABLA_READ_INTERRUPTED = 2,  ///< Ctrl-C: discard the line
};

/// The TAB callback: given the text before the cursor, returns a malloc'd
/// string whose first line is the text to insert at the cursor and whose
/// further lines are candidates to list (when there is nothing to insert).
/// NULL means no completion.
typedef char *(*nabla_complete_fn)(void *context, const char *before_cursor);

/// Opens the editor on the terminal (stdin/stdout). `history_path` may be NULL.
/// Sets the locale from the environment (needed for UTF-8 input) and installs
/// a SIGINT handler without SA_RESTART.
nabla_editor *nabla_editor_open(const char *program, const char *history_path, int history_size,
                                nabla_complete_fn complete, void *context);
void nabla_editor_close(nabla_editor *editor);

/// Reads one line, showing `prompt`. The result stays valid until the next call.
const char *nabla_editor_read(nabla_editor *editor, const char *prompt, int *status);

/// Adds a line to the history and appends it to the history file (under a lock).
void nabla_editor_remember(nabla_editor *editor, const char *line);

/// Returns 1 (and clears the flag) if SIGINT arrived since the last call.
int nabla_take_interrupt(void);

/// Returns 1 if SIGINT arrived since the last take, without clearing it.
int nabla_peek_interrupt(void);

/// Installs the SIGINT handler that only sets the flag (for long commands outside the editor).
void nabla_install_interrupt_handler(void);

/// Flushes standard output; returns 0, or the errno of a write that failed (a full disk,
/// /dev/full): such a run must not exit 0.
int nabla_finish_output(void);

/// Standard output a line at a time even to a file or a pipe (`nabla mnist > log` shows each
/// epoch as it ends; C's default holds 4 KB back).
void nabla_output_by_lines(void);

#endif
