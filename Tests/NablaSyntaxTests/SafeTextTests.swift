@testable import NablaSyntax
import Testing

/// Output is scanned for control characters on its UTF-8 bytes; the answer must be the one
/// a scan of its Unicode scalars gives.
@Suite("Control characters found on bytes")
struct SafeTextTests {
    @Test("every scalar up to U+00FF, alone and inside text, and text without any")
    func everyLowScalar() {
        for v in 0...0xFF {
            guard let c = Unicode.Scalar(v) else { continue }
            for text in [String(Character(c)), "x = \(Character(c))1", "é\(Character(c))", "∂L/∂w\(Character(c))"] {
                #expect(SafeText.hasControl(text) == text.unicodeScalars.contains(where: SafeText.isControl), "U+\(v)")
            }
        }
        for text in ["", "x = 1", "∂L/∂w1 = -0.268941", "naïve 😀 text", "a\nb\tc", "\u{2028}"] {
            #expect(SafeText.hasControl(text) == text.unicodeScalars.contains(where: SafeText.isControl), "\(text)")
        }
        #expect(SafeText.escaped("a\u{1B}b") == "a\\eb")
        #expect(SafeText.escaped("a\u{85}b") != "a\u{85}b")
    }
}
