#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CNablaEdit
import NablaSession

/// The interactive loop on a terminal: libedit for editing, history and TAB;
/// read a statement, run it, print, report; Ctrl-C cancels, Ctrl-D quits (at a sub-prompt:
/// leaves it).
public final class REPL {
    let session: Session
    var editor: OpaquePointer?

    public init(session: Session) {
        self.session = session
    }

    /// Where history is kept: `$XDG_STATE_HOME/nabla/history`, else `~/.local/state/nabla/history`.
    static func historyPath() -> String? {
        let env = { (name: String) -> String? in getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        guard let base = env("XDG_STATE_HOME") ?? env("HOME").map({ $0 + "/.local/state" }) else { return nil }
        let dir = base + "/nabla"
        var path = ""
        for part in dir.split(separator: "/") {
            path += "/" + part
            mkdir(path, 0o700)
        }
        return dir + "/history"
    }

    public func run() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        editor = nabla_editor_open("nabla", REPL.historyPath(), 1000, completeCallback, context)
        guard let editor else {
            Terminal.writeError("nabla: cannot start line editing; reading plain lines\n")
            PlainLoop(session: session).run()
            return
        }
        defer { nabla_editor_close(editor) }
        session.isInterrupted = { nabla_peek_interrupt() != 0 }
        session.pager = { Terminal.page($0) }
        // Sentences are broken between words at the terminal's width, not inside them.
        let err = session.output.err
        session.output = SessionOutput(out: { print(Terminal.wrap($0, width: Terminal.size.columns)) }, err: err)
        session.status = { Terminal.status(String($0.prefix(Terminal.size.columns - 1))) }
        print("nabla \(CommandLineTool.version): type :help for commands, TAB to complete, Ctrl-D to quit")
        var reader = StatementReader()
        var lineNumber = 0
        while true {
            let prompt = session.pendingPrompt ?? (reader.isContinuing ? "  ...> " : "nabla> ")
            var status: Int32 = 0
            let raw = nabla_editor_read(editor, prompt, &status)
            if status == Int32(NABLA_READ_INTERRUPTED.rawValue) {
                print("^C")
                reader.cancel()
                session.cancelPending()
                continue
            }
            guard status == Int32(NABLA_READ_LINE.rawValue), let raw else {
                // Ctrl-D leaves a sub-prompt (a :step, an answer, [y/N], a continuation) only.
                print("")
                if session.pendingPrompt != nil {
                    session.cancelPending()
                    continue
                }
                if reader.isContinuing {
                    reader.cancel()
                    print("(the unfinished statement was dropped)")
                    continue
                }
                return
            }
            let line = String(cString: raw)
            lineNumber += 1
            (session.width, session.rows) = Terminal.size
            if !line.allSatisfy(\.isWhitespace) { nabla_editor_remember(editor, line) }
            _ = nabla_take_interrupt()
            if session.pendingPrompt != nil {
                session.answer(line)
            } else {
                // Parsed under the session's limits (nesting, height), as scripts are.
                if !REPL.feed(line, lineNumber, to: &reader, session) { continue }
            }
            if nabla_take_interrupt() != 0 { print("interrupted: back at the prompt, everything finished so far is kept") }
            if session.wantsToQuit { return }
            Terminal.flushOutput()
        }
    }

    /// Feeds a typed line to the statement reader and runs what it completes; false while a
    /// statement is still open. A command that ended an unfinished statement runs after the
    /// error.
    static func feed(_ line: String, _ number: Int, to reader: inout StatementReader, _ session: Session) -> Bool {
        var next: (line: String, number: Int)? = (line, number)
        var complete = true
        while let (text, n) = next {
            next = nil
            switch session.withLimits({ reader.feed(text, lineNumber: n) }) {
            case .needMore: complete = false
            case let .statement(statement, source): session.run(statement, source: source)
            case let .failure(diagnostic, source):
                session.report(diagnostic, in: source)
                next = reader.takeBrokenOff()
            }
        }
        return complete
    }

    /// TAB, called from C with the text before the cursor.
    func completion(_ beforeCursor: String) -> String {
        let c = session.complete(beforeCursor)
        guard c.insert.isEmpty, !c.candidates.isEmpty else { return c.insert + "\n" }
        var lines: [String] = []
        var line = ""
        let width = (c.candidates.map(\.count).max() ?? 0) + 2
        for candidate in c.candidates {
            if line.count + width > 78, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += candidate.padding(toLength: width, withPad: " ", startingAt: 0)
        }
        lines.append(line)
        return "\n" + lines.joined(separator: "\n")
    }
}

/// libedit's TAB callback: a plain C function that finds the REPL through its context pointer.
private func completeCallback(_ context: UnsafeMutableRawPointer?, _ before: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    guard let context, let before else { return nil }
    let repl = Unmanaged<REPL>.fromOpaque(context).takeUnretainedValue()
    return strdup(repl.completion(String(cString: before)))
}

/// The loop without libedit (when it cannot start): a prompt and plain lines.
struct PlainLoop {
    let session: Session

    func run() {
        var reader = StatementReader()
        var lineNumber = 0
        while true {
            print(session.pendingPrompt ?? (reader.isContinuing ? "  ...> " : "nabla> "), terminator: "")
            Terminal.flushOutput()
            guard let line = readLine() else {
                print("")
                return
            }
            lineNumber += 1
            if session.pendingPrompt != nil {
                session.answer(line)
                continue
            }
            if !REPL.feed(line, lineNumber, to: &reader, session) { continue }
            if session.wantsToQuit { return }
        }
    }
}
