import NablaGraph
import NablaSyntax
import NablaTensor

/// A command's arguments: the raw text after its name and where that text starts.
package struct CommandArguments {
    package var name: String
    package var nameRange: SourceRange
    package var text: String
    package var start: SourceLocation

    package init(name: String, nameRange: SourceRange, text: String, start: SourceLocation) {
        (self.name, self.nameRange, self.text, self.start) = (name, nameRange, text, start)
    }

    /// The arguments split at whitespace, each with its range.
    /// The arguments split at spaces; double quotes keep spaces in one word (`"my data.csv"`,
    /// `dir="MNIST files"`), and so does a backslash before a space (`my\ data.csv`), as in a shell.
    package var words: [(String, SourceRange)] {
        var out: [(String, SourceRange)] = []
        var current = ""
        var started = false, quoted = false, escaped = false
        var startColumn = start.column
        var column = start.column
        for c in text {
            defer { column += 1 }
            if escaped {
                current.append(c)
                escaped = false
            } else if c == "\\" && !quoted {
                if !started { startColumn = column }
                started = true
                escaped = true
            } else if c == "\"" {
                if !started { startColumn = column }
                started = true
                quoted.toggle()
            } else if (c == " " || c == "\t") && !quoted {
                if started { out.append((current, range(startColumn, column))) }
                current = ""
                started = false
            } else {
                if !started { startColumn = column }
                started = true
                current.append(c)
            }
        }
        if started { out.append((current, range(startColumn, column))) }
        return out
    }

    /// The argument as one path: a quoted (`"my file.nabla"`) or escaped word unwrapped, else
    /// the whole text as typed (`:save my file.nabla` still names one file).
    package var path: String {
        let w = words
        return w.count == 1 ? w[0].0 : text
    }

    /// A range on the command's line from one column to another.
    package func range(_ from: Int, _ to: Int) -> SourceRange {
        SourceRange(
            start: SourceLocation(line: start.line, column: from),
            end: SourceLocation(line: start.line, column: to), offsets: (from - 1)..<(to - 1))
    }

    /// Where the arguments are (or where they should have been).
    package var wholeRange: SourceRange {
        text.isEmpty ? range(start.column, start.column + 1) : range(start.column, start.column + text.count)
    }

    /// The error for a missing argument, with the usage.
    package func missing(_ what: String, usage: String) -> Diagnostic {
        Diagnostic(.error, ":\(name) needs \(what) (usage: \(usage))", at: text.isEmpty ? nameRange : wholeRange)
    }

    /// The whole argument text as one expression.
    package func expression() throws(Diagnostic) -> Expr {
        try Parser.parseExpression(text, line: start.line, column: start.column)
    }
}

