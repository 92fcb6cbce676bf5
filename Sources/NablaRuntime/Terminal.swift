#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few facts about the process's terminal that the session needs.
public enum Terminal {
    /// True when both standard input and standard output are terminals.
    public static var isInteractive: Bool { isatty(0) == 1 && isatty(1) == 1 }

    /// The terminal's columns and rows: standard output's when it is a terminal, else
    /// `$COLUMNS` and `$LINES`; with neither, no limit (a file or a pipe keeps whole lines).
    public static var size: (columns: Int, rows: Int) {
        var w = winsize()
        if isatty(1) == 1, ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 { return (Int(w.ws_col), Int(w.ws_row)) }
        // A width from the environment is taken between 1 and "no limit" (a huge $COLUMNS must
        // not overflow the arithmetic of tables and plots).
        let env = { (name: String) in getenv(name).flatMap { Int(String(cString: $0)) }.flatMap { $0 > 0 ? Swift.min($0, Session.unlimitedWidth) : nil } }
        return (env("COLUMNS") ?? Session.unlimitedWidth, env("LINES") ?? 24)
    }

    /// `text` with every line wider than `width` columns broken at spaces, each continuation
    /// indented two more than its line (what the prompt prints, so a sentence is not cut in
    /// the middle of a word by the terminal). A line with no space to break at stays whole,
    /// and so do lines when `width` is under 20 (no sensible wrap).
    public static func wrap(_ text: String, width: Int) -> String {
        guard width >= 20, text.contains(where: { $0 == "\n" }) || text.count > width else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { wrapLine($0, width: width) }.joined(separator: "\n")
    }

    /// One line of `wrap`.
    static func wrapLine(_ line: Substring, width: Int) -> String {
        guard line.count > width else { return String(line) }
        let lead = line.prefix { $0 == " " }.count
        let indent = String(repeating: " ", count: Swift.min(lead + 2, width / 2))
        var pieces: [String] = []
        var rest = line
        var prefix = ""
        while prefix.count + rest.count > width {
            // The last space that leaves at most `width` columns before it, past the indentation.
            let head = rest.prefix(width - prefix.count + 1)
            guard let space = head.lastIndex(of: " "),
                  rest[..<space].contains(where: { $0 != " " })
            else { break }
            var end = space
            while rest[rest.index(before: end)] == " " { end = rest.index(before: end) }
            pieces.append(prefix + rest[..<end])
            rest = rest[rest.index(after: space)...].drop { $0 == " " }
            prefix = indent
        }
        return (pieces + [prefix + rest]).joined(separator: "\n")
    }

    /// Shows `text` through `$PAGER` (default `less -FRX`, which quits at once when the text
    /// fits); false when no pager could start, so the caller prints it instead.
    public static func page(_ text: String) -> Bool {
        let pager = getenv("PAGER").map { String(cString: $0) } ?? "less -FRX"
        // A pager that is not installed: print instead (no "sh: less: not found").
        guard !pager.isEmpty, pager != "cat", let program = pager.split(separator: " ").first,
              program.contains("/") ? access(String(program), X_OK) == 0 : Session.findExecutable(String(program)) != nil
        else { return false }
        fflush(nil)
        guard let pipe = popen(pager, "w") else { return false }
        let ok = fputs(text + "\n", pipe) >= 0
        let status = pclose(pipe)
        return ok && status == 0
    }

    /// A status line at the terminal, redrawn in place (`""` erases it).
    nonisolated(unsafe) static var statusShown = false
    public static func status(_ text: String) {
        guard !(text.isEmpty && !statusShown) else { return }
        statusShown = !text.isEmpty
        print("\r\u{1B}[K" + text, terminator: "")
        fflush(nil)
    }

    /// Writes to standard error, unbuffered.
    public static func writeError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Flushes standard output, so what was printed comes before what follows on standard error.
    public static func flushOutput() { fflush(nil) }

    /// A seed from the clock, for sessions that did not say `seed n`.
    static func entropy() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_007 &+ UInt64(truncatingIfNeeded: ts.tv_nsec)
    }
}
