import NablaRuntime
import Testing

/// What the prompt prints is broken between words at the terminal's width (the expected
/// lines come from Python's textwrap with the same width and indents).
@Suite("Output wrapped at the terminal's width")
struct WrapTests {
    let verify = "≈ close: exact -1.46212, yours -1.48 (1.2% off; rounding of intermediate values to 2 significant digits explains it)"

    @Test("a sentence breaks at the last space that fits, the rest indented by two")
    func sentence() {
        #expect(Terminal.wrap(verify, width: 60) == """
            ≈ close: exact -1.46212, yours -1.48 (1.2% off; rounding of
              intermediate values to 2 significant digits explains it)
            """)
    }

    @Test("an indented line keeps its indent, continuations two more")
    func indented() {
        let line = "    the matrix W has shape [3, 4] and the vector x has shape [5]: they cannot be multiplied"
        #expect(Terminal.wrap(line, width: 40) == """
                the matrix W has shape [3, 4] and
                  the vector x has shape [5]: they
                  cannot be multiplied
            """)
    }

    @Test("lines that fit, words longer than the width and narrow terminals are left alone")
    func leftAlone() {
        let text = "L = 1.31326\n∂L/∂w1 = -1.46212   (shape: scalar)"
        #expect(Terminal.wrap(text, width: 80) == text)
        let long = String(repeating: "x", count: 50)
        #expect(Terminal.wrap("a " + long, width: 30) == "a\n  " + long)
        #expect(Terminal.wrap(verify, width: 19) == verify)
        #expect(Terminal.wrap(verify, width: 200) == verify)
    }

    @Test("every line fits and no word is lost, for every width", arguments: [20, 27, 33, 41, 58, 79, 115])
    func fitsAndKeepsWords(width: Int) {
        let text = verify + "\n" + "  " + verify + "\n\n" + verify.uppercased()
        let wrapped = Terminal.wrap(text, width: width)
        #expect(wrapped.split(separator: "\n").allSatisfy { $0.count <= width })
        #expect(wrapped.split(whereSeparator: { $0 == " " || $0 == "\n" }) == text.split(whereSeparator: { $0 == " " || $0 == "\n" }))
        #expect(wrapped.split(separator: "\n", omittingEmptySubsequences: false).count >= 4)
    }
}
