@testable import NablaSession
import Testing

/// A script's lines: split on the bytes of an ASCII script, on Characters otherwise; both
/// end a line at any newline, "\r\n" counting once.
@Suite("A script's lines")
struct ScriptLinesTests {
    @Test("every newline, and \\r\\n once, as Swift's Character split does", arguments: [
        "a = 1\nb = 2", "a = 1\r\nb = 2\r\n", "x\ry\n\nz", "\n", "", "one", "v\u{0B}w\u{0C}t", "a\r\r\nb",
        "é = 1\r\nb = 2", "x = 1\u{2028}y = 2\u{85}z",
    ])
    func lines(text: String) {
        let expected = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        #expect(Session.lines(text).map(String.init) == expected)
    }
}
