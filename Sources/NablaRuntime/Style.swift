/// Colour for terminals (ANSI escapes), or plain text when colour is off.
/// Only the REPL on a terminal turns it on; NO_COLOR and --no-color keep it off.
package struct Style {
    package var enabled: Bool

    package func paint(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// ✓ and what is right.
    package func ok(_ text: String) -> String { paint(text, "32") }
    /// ✗ and errors.
    package func bad(_ text: String) -> String { paint(text, "31") }
    /// ≈ and warnings.
    package func close(_ text: String) -> String { paint(text, "33") }
    /// Numbers the graph computed.
    package func value(_ text: String) -> String { paint(text, "36") }
    /// Shapes and other quiet details.
    package func shape(_ text: String) -> String { paint(text, "2") }
    /// Headings of the views.
    package func heading(_ text: String) -> String { paint(text, "1") }
}

extension Session {
    package var style: Style { Style(enabled: colors) }
}
