import Foundation
import NablaTensor

/// How values are shown: six significant digits, vectors on one line, matrices
/// as aligned rows, big tensors summarised with `...`.
public enum Printer {
    /// Rows or columns beyond this are summarised (first and last few shown).
    public static let summaryThreshold = 10
    static let edgeItems = 3

    /// A value, its continuation lines indented by `indent` spaces (to sit under `name = `);
    /// a matrix with at most `whole` columns is never summarised across (`:jacobian`).
    /// (`indent` is evaluated only for a matrix or more: counting a prefix's characters is
    /// not free, and most values printed are numbers.)
    public static func value(_ t: Tensor, indent: @autoclosure () -> Int = 0, whole: Int = summaryThreshold) -> String {
        switch t.rank {
        case 0:
            return Format.number(t.scalar)
        case 1:
            return "[" + items(t.scalars, limit: whole).joined(separator: ", ") + "]"
        case 2:
            return matrix(t, indent: indent(), limit: whole)
        default:
            return stack(t, indent: indent())
        }
    }

    /// A tensor of rank 3 or more as labelled matrices, `[i] =` (rank 3) or `[i, j] =` (rank 4),
    /// the first and last three shown when there are more than ten.
    static func stack(_ t: Tensor, indent: Int) -> String {
        let lead = Array(t.shape.dropLast(2)), (m, n) = (t.shape[t.rank - 2], t.shape[t.rank - 1])
        let count = Shape.count(lead)
        let shown: [Int?] = count <= summaryThreshold ? Array(0..<count) : Array(0..<edgeItems) + [nil] + Array(count - edgeItems..<count)
        let pad = String(repeating: " ", count: indent)
        var lines = ["tensor of shape \(Shape.describe(t.shape)), as \(count) \(count == 1 ? "matrix" : "matrices") \(m)x\(n):"]
        let strides = Shape.strides(lead)
        for k in shown {
            guard let k else {
                lines.append(pad + "  ... (\(count - 2 * edgeItems) more)")
                continue
            }
            let label = strides.indices.map { String(k / strides[$0] % lead[$0]) }.joined(separator: ", ")
            let slice = Tensor(shape: [m, n], scalars: Array(t.scalars[k * m * n..<(k + 1) * m * n]))
            lines.append(pad + "  [\(label)] =")
            lines.append(pad + "  " + matrix(slice, indent: indent + 2))
        }
        return lines.joined(separator: "\n")
    }

    /// The elements of a row as text, summarised when long.
    static func items(_ values: [Double], limit: Int = summaryThreshold) -> [String] {
        if values.count <= limit { return values.map { Format.number($0) } }
        return values.prefix(edgeItems).map { Format.number($0) } + ["..."]
            + values.suffix(edgeItems).map { Format.number($0) }
    }

    static func matrix(_ t: Tensor, indent: Int, limit: Int = summaryThreshold) -> String {
        let (m, n) = (t.shape[0], t.shape[1])
        let rowIndices: [Int?] = m <= Swift.max(limit, summaryThreshold)
            ? Array(0..<m) : Array(0..<edgeItems) + [nil] + Array(m - edgeItems..<m)
        let cells: [[String]?] = rowIndices.map { r in
            r.map { items(Array(t.scalars[$0 * n..<($0 + 1) * n]), limit: limit) }
        }
        let columns = cells.compactMap { $0?.count }.max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in cells.compactMap({ $0 }) {
            for (j, cell) in row.enumerated() { widths[j] = Swift.max(widths[j], cell.count) }
        }
        let pad = String(repeating: " ", count: indent + 1)
        var lines: [String] = []
        for (i, row) in cells.enumerated() {
            let prefix = i == 0 ? "[" : pad
            let suffix = i == cells.count - 1 ? "]" : ","
            guard let row else {
                lines.append(prefix + " ...")
                continue
            }
            let text = row.enumerated().map { j, cell in
                String(repeating: " ", count: widths[j] - cell.count) + cell
            }.joined(separator: ", ")
            lines.append(prefix + "[" + text + "]" + suffix)
        }
        return lines.joined(separator: "\n")
    }

    /// A value written back as a literal that reads in as exactly the same numbers (for `:save`).
    public static func literal(_ t: Tensor) -> String {
        func number(_ x: Double) -> String {
            if x == x.rounded(), Swift.abs(x) < 1e15 { return String(Int(x)) }
            return "\(x)"
        }
        switch t.rank {
        case 0:
            return number(t.scalar)
        case 1:
            return "[" + t.scalars.map(number).joined(separator: ", ") + "]"
        default:
            // Nested brackets, one level per axis, so any rank reads back as the same shape.
            let inner = Array(t.shape.dropFirst()), size = Shape.count(inner)
            let parts = (0..<t.shape[0]).map { i in
                literal(Tensor(shape: inner, scalars: Array(t.scalars[i * size..<(i + 1) * size])))
            }
            return "[" + parts.joined(separator: ", ") + "]"
        }
    }

    /// `scalar`, `[3]`, `[3, 4]`.
    public static func shape(_ shape: [Int]) -> String { Shape.describe(shape) }
}

extension Session {
    /// Left-aligned columns separated by two spaces.
    package static func table(_ rows: [[String]], width: Int? = nil) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (j, cell) in row.enumerated() where j < columns - 1 { widths[j] = Swift.max(widths[j], cell.count) }
        }
        // On a terminal too narrow for it, a long first cell (an example) gets a line of its
        // own and its text starts under the others' (two columns only).
        if let width, columns == 2, widths[0] + 2 > width * 2 / 5 {
            widths[0] = Swift.min(widths[0], Swift.max(width * 2 / 5 - 2, rows.map { $0[0].count }.sorted()[rows.count * 3 / 4]))
        }
        let lead = widths.dropLast().reduce(0) { $0 + $1 + 2 }
        return rows.map { row in
            if columns == 2, row.count == 2, row[0].count > widths[0] {
                let rest = String(repeating: " ", count: lead) + row[1]
                return row[0] + "\n" + (width.map { wrap(rest, width: $0, indent: lead) } ?? rest)
            }
            let line = row.enumerated().map { j, cell in
                j < columns - 1 ? cell + String(repeating: " ", count: widths[j] - cell.count) : cell
            }.joined(separator: "  ")
            // The last column wraps under itself when the line is wider than the terminal.
            guard let width, line.count > width, width - lead >= 20 else { return line }
            return wrap(line, width: width, indent: lead)
        }.joined(separator: "\n")
    }

    /// Breaks a line longer than `width` at spaces; the lines after the first start with
    /// `indent` spaces (default: the line's own indentation and 2). A word longer than a
    /// line stays whole.
    package static func wrap(_ line: String, width: Int, indent: Int? = nil) -> String {
        guard line.count > width else { return line }
        let leading = line.prefix { $0 == " " }.count
        let pad = String(repeating: " ", count: indent ?? (leading + 2))
        var rest = Array(line)
        var out: [String] = []
        while true {
            let room = out.isEmpty ? width : width - pad.count
            guard rest.count > room, room > 0 else { break }
            // The last space that keeps the piece within room and leaves it some words.
            let floor = out.isEmpty ? leading + 1 : 1
            var cut = Swift.min(room, rest.count - 1)
            while cut > floor, rest[cut] != " " { cut -= 1 }
            if cut <= floor {
                // One long word: break at the first space after it, if any.
                guard let next = rest[room...].firstIndex(of: " ") else { break }
                cut = next
            }
            out.append(String(rest[..<cut]).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
            rest = Array(rest[cut...].drop { $0 == " " })
            if rest.isEmpty { break }
        }
        if !rest.isEmpty { out.append(out.isEmpty ? String(rest) : String(rest)) }
        return out.enumerated().map { $0.offset == 0 ? $0.element : pad + $0.element }.joined(separator: "\n")
    }
}

/// Text made safe inside XML (SVG, the exported page, JUnit reports): the five special
/// characters as entities, control characters other than tab and newline dropped (XML 1.0
/// cannot hold them).
package enum XMLText {
    package static func escaped(_ text: String, keepNewlines: Bool = true) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n" where keepNewlines, "\t": out.unicodeScalars.append(c)
            default:
                if c.value >= 0x20 && !(0x7F...0x9F).contains(c.value) && c.value != 0xFFFE && c.value != 0xFFFF {
                    out.unicodeScalars.append(c)
                } else {
                    out += " "
                }
            }
        }
        return out
    }
}
