#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few facts about the process's terminal that the session needs.
public enum Terminal {
    /// True when both standard input and standard output are terminals.
    public static var isInteractive: Bool { isatty(0) == 1 && isatty(1) == 1 }

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
