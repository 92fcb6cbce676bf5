import Foundation
import NablaTensor

/// A CSV file's cells, as text (see `parse` for how a file is read).
public struct CSVTable: Sendable, Equatable {
    /// The first row's cells when it is a header (see `parse` for the rule), else nil.
    public var header: [String]?
    /// The data rows' cells, as text (quotes removed; unquoted cells trimmed of spaces and tabs).
    public var rows: [[String]]
    /// The 1-based source line where each row starts (a quoted field may run over several lines).
    public var lines: [Int]

    public init(header: [String]?, rows: [[String]], lines: [Int]) {
        self.header = header
        self.rows = rows
        self.lines = lines
    }

    /// Reads `text` as CSV: RFC 4180, leniently.
    ///
    /// - Fields are separated by `delimiter`; nil sniffs it among tab, `;` and `,` from the
    ///   first 20 lines: the first of those (in that order) that every line holds the same
    ///   number of times, outside quotes; else the most frequent; else `,`.
    /// - A field in double quotes may hold the delimiter, line ends, and quotes written twice
    ///   (`""`). Spaces or tabs around the quotes are ignored; other text after the closing
    ///   quote is an error. A quote inside an unquoted field is an ordinary character.
    /// - Unquoted fields are trimmed of spaces and tabs.
    /// - Lines end in LF, CRLF or CR; a UTF-8 byte order mark is skipped; blank lines are
    ///   skipped; a line starting with `#` is a comment (a `#` later in a line, or in quotes, is text).
    /// - A quote never closed is an error naming the line and column where it opens.
    ///
    /// The header rule: the first row is a header when one of its cells is text (not a number,
    /// not a missing marker such as an empty cell or `NA`) while the same cell of the second row
    /// is a number; a file of one row is a header when that row holds text. With `;` as the
    /// delimiter, a decimal comma (`1,5`) counts as a number.
    public static func parse(_ text: String, delimiter: Character? = nil, isInterrupted: () -> Bool = { false }) throws(DataError) -> CSVTable {
        var reader = try CSVReader(text, delimiter: delimiter)
        var rows: [[String]] = []
        var lines: [Int] = []
        while let record = try reader.next() {
            if rows.count % 4096 == 4095 && isInterrupted() { throw DataError("interrupted; nothing was read") }
            rows.append(record.cells)
            lines.append(record.line)
        }
        guard let first = rows.first, isHeader(first, rows.count > 1 ? rows[1] : nil, decimalComma: reader.decimalComma) else {
            return CSVTable(header: nil, rows: rows, lines: lines)
        }
        return CSVTable(header: first, rows: Array(rows.dropFirst()), lines: Array(lines.dropFirst()))
    }

    /// True when `first` is a header row by the rule `parse` describes.
    static func isHeader(_ first: [String], _ second: [String]?, decimalComma: Bool) -> Bool {
        let text = first.indices.filter { CSVCell.isText(first[$0], decimalComma: decimalComma) }
        guard !text.isEmpty else { return false }
        guard let second else { return true }
        return text.contains { $0 < second.count && CSVCell.number(second[$0], decimalComma: decimalComma) != nil }
    }
}

/// How `Dataset.csv` turns a CSV file into a data set.
public struct CSVOptions: Sendable, Equatable {
    /// What to do with a missing feature value (an empty cell, `NA`, `N/A`, `NaN`, `null`,
    /// `None` or `?`, in any case). A missing target is never filled in: `.dropRows` and
    /// `.mean` drop its row, `.refuse` refuses it.
    public enum MissingPolicy: String, Sendable, Equatable, CaseIterable {
        /// An error naming the line and column of the first missing value.
        case refuse
        /// Rows with a missing value are left out (a note says how many).
        case dropRows
        /// A missing feature value becomes its column's mean over the rows kept (a note says which).
        case mean
    }

    /// The target column: its header name (exact, else ignoring case) or its 1-based number
    /// (`-1` the last, `-2` the one before, ...); nil: the last column.
    public var target: String?
    /// The field separator; nil: sniffed among `,`, `;` and tab (see `CSVTable.parse`).
    public var delimiter: Character?
    public var missing: MissingPolicy
    /// Each feature column brought to mean 0 and standard deviation 1 (the population's,
    /// numpy's default `ddof=0`); a constant column is only centred.
    public var standardize: Bool

    public init(target: String? = nil, delimiter: Character? = nil, missing: MissingPolicy = .refuse, standardize: Bool = false) {
        self.target = target
        self.delimiter = delimiter
        self.missing = missing
        self.standardize = standardize
    }
}

extension Dataset {
    /// A data set from a CSV file (read as `CSVTable.parse` describes): one sample per row,
    /// the features numbers, the target column (`options.target`, the last by default) either
    /// numbers (whole non-negative numbers with at most 20 values are classes, see `classify`;
    /// others a regression target) or text labels (classes 0...k-1 in sorted order, named in
    /// `classNames` and in a note). Errors name the line and the column (in characters).
    ///
    /// The notes say what was done beyond reading: class names, rows dropped, values filled
    /// in, the standardisation's means and standard deviations.
    public static func csv(
        _ text: String, name: String, options: CSVOptions, isInterrupted: () -> Bool = { false }
    ) throws(DataError) -> (Dataset, notes: [String]) {
        var reader = try CSVReader(text, delimiter: options.delimiter)
        guard let first = try reader.next() else { throw DataError("no data rows (an empty file?)") }
        let second = try reader.next()
        let isHeader = CSVTable.isHeader(first.cells, second?.cells, decimalComma: reader.decimalComma)
        var columns = try CSVColumns(first: first, header: isHeader ? first.cells : nil, options: options, decimalComma: reader.decimalComma)
        if !isHeader { try columns.add(first) }
        if let second { try columns.add(second) }
        var read = 2
        while let record = try reader.next() {
            read += 1
            if read % 4096 == 0 && isInterrupted() { throw DataError("interrupted; the data was not changed") }
            try columns.add(record)
        }
        return try columns.dataset(name: name)
    }
}

// MARK: - Reading records

/// The bytes the reader looks for.
enum CSVByte {
    static let tab: UInt8 = 9
    static let lf: UInt8 = 10
    static let cr: UInt8 = 13
    static let space: UInt8 = 32
    static let quote: UInt8 = 34
    static let hash: UInt8 = 35
    static let comma: UInt8 = 44
    static let semicolon: UInt8 = 59
}

/// One row of a CSV file: its cells, where each starts, and the line it starts on.
struct CSVRecord {
    var cells: [String] = []
    var places: [(line: Int, column: Int)] = []
    var line: Int
    var quoted = false

    /// A line holding nothing but spaces: skipped.
    var isBlank: Bool { cells.count == 1 && !quoted && cells[0].isEmpty }
}

/// Reads CSV records one at a time from UTF-8 bytes, counting lines and columns (a column
/// counts characters, as Unicode scalars, from 1).
struct CSVReader {
    let bytes: [UInt8]
    let delimiter: UInt8
    private var pos: Int
    private var line = 1
    private var column = 1

    /// A reader of `text`; a nil `delimiter` is sniffed.
    init(_ text: String, delimiter: Character?) throws(DataError) {
        bytes = Array(text.utf8)
        pos = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        if let delimiter {
            guard let ascii = delimiter.asciiValue, ascii != CSVByte.quote, ascii != CSVByte.lf, ascii != CSVByte.cr else {
                throw DataError("the delimiter must be one ASCII character other than a quote or a line end (not '\(delimiter)')")
            }
            self.delimiter = ascii
        } else {
            self.delimiter = CSVReader.sniff(bytes, from: pos)
        }
    }

    /// With `;` between fields, a comma in a number is its decimal point (`1,5`).
    var decimalComma: Bool { delimiter == CSVByte.semicolon }

    /// The next record, or nil at the end; comment and blank lines are skipped.
    mutating func next() throws(DataError) -> CSVRecord? {
        while pos < bytes.count {
            if bytes[pos] == CSVByte.hash && delimiter != CSVByte.hash {
                skipLine()
                continue
            }
            let record = try self.record()
            if record.isBlank { continue }
            return record
        }
        return nil
    }

    /// Moves past one byte, counting lines (LF, CR, or CRLF as one) and characters.
    private mutating func advance() {
        let b = bytes[pos]
        pos += 1
        if b == CSVByte.lf || (b == CSVByte.cr && (pos == bytes.count || bytes[pos] != CSVByte.lf)) {
            line += 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
    }

    private mutating func skipLine() {
        while pos < bytes.count {
            let b = bytes[pos]
            advance()
            if b == CSVByte.lf { return }
            if b == CSVByte.cr {
                if pos < bytes.count && bytes[pos] == CSVByte.lf { advance() }
                return
            }
        }
    }

    /// The record at a line's start, up to and past its line end.
    private mutating func record() throws(DataError) -> CSVRecord {
        var record = CSVRecord(line: line)
        // Space or tab as the delimiter: a run of them is one, and they do not start or end a
        // line's cells (columns aligned by hand).
        let runs = delimiter == CSVByte.space || delimiter == CSVByte.tab
        if runs { skipDelimiters() }
        while true {
            let place = (line: line, column: column)
            let (cell, quoted) = try field()
            record.cells.append(cell)
            record.places.append(place)
            record.quoted = record.quoted || quoted
            guard pos < bytes.count, bytes[pos] == delimiter else { break }
            advance()
            if runs {
                skipDelimiters()
                if pos >= bytes.count || bytes[pos] == CSVByte.lf || bytes[pos] == CSVByte.cr { break }
            }
        }
        if pos < bytes.count { skipLine() }  // at a line end: past it
        return record
    }

    private mutating func skipDelimiters() {
        while pos < bytes.count, bytes[pos] == delimiter { advance() }
    }

    private func isSpace(_ b: UInt8) -> Bool {
        (b == CSVByte.space || b == CSVByte.tab) && b != delimiter
    }

    /// One field, stopping at the delimiter, a line end or the end.
    private mutating func field() throws(DataError) -> (String, quoted: Bool) {
        var p = pos
        while p < bytes.count && isSpace(bytes[p]) { p += 1 }
        if p < bytes.count && bytes[p] == CSVByte.quote {
            while pos < p { advance() }
            return (try quoted(), true)
        }
        let start = pos
        while pos < bytes.count {
            let b = bytes[pos]
            if b == delimiter || b == CSVByte.lf || b == CSVByte.cr { break }
            advance()
        }
        var low = start, high = pos
        while low < high && isSpace(bytes[low]) { low += 1 }
        while high > low && isSpace(bytes[high - 1]) { high -= 1 }
        return (String(decoding: bytes[low..<high], as: UTF8.self), false)
    }

    /// A quoted field, from its opening quote: its text with `""` made `"`.
    private mutating func quoted() throws(DataError) -> String {
        let open = (line: line, column: column)
        advance()
        var content: [UInt8] = []
        while true {
            guard pos < bytes.count else {
                throw DataError("a quoted field is never closed: its quote opens here (a quote inside quotes is written \"\")", line: open.line, column: open.column)
            }
            let b = bytes[pos]
            advance()
            if b != CSVByte.quote {
                content.append(b)
                continue
            }
            guard pos < bytes.count, bytes[pos] == CSVByte.quote else { break }
            content.append(b)
            advance()
        }
        while pos < bytes.count && isSpace(bytes[pos]) { advance() }
        if pos < bytes.count, bytes[pos] != delimiter, bytes[pos] != CSVByte.lf, bytes[pos] != CSVByte.cr {
            throw DataError("text after the closing quote of a field (a quote inside quotes is written \"\")", line: line, column: column)
        }
        return String(decoding: content, as: UTF8.self)
    }

    /// The delimiter the first 20 lines suggest (see `CSVTable.parse`).
    static func sniff(_ bytes: [UInt8], from start: Int) -> UInt8 {
        let candidates = [CSVByte.tab, CSVByte.semicolon, CSVByte.comma]
        var counts: [[Int]] = []
        var current = [0, 0, 0]
        var inQuotes = false, lineStart = true, comment = false, content = false
        var i = start
        let end = Swift.min(bytes.count, start + (1 << 20))
        while i < end && counts.count < 20 {
            let b = bytes[i]
            i += 1
            if lineStart {
                comment = b == CSVByte.hash
                lineStart = false
            }
            if b == CSVByte.quote {
                inQuotes.toggle()
                content = true
            } else if inQuotes {
                continue
            } else if b == CSVByte.lf || b == CSVByte.cr {
                if content && !comment { counts.append(current) }
                current = [0, 0, 0]
                content = false
                lineStart = true
            } else {
                if b != CSVByte.space { content = true }
                if let k = candidates.firstIndex(of: b) { current[k] += 1 }
            }
        }
        if i == bytes.count && content && !comment { counts.append(current) }
        for k in candidates.indices {
            let first = counts.first?[k] ?? 0
            if first > 0 && counts.allSatisfy({ $0[k] == first }) { return candidates[k] }
        }
        let totals = candidates.indices.map { k in counts.reduce(0) { $0 + $1[k] } }
        guard let best = totals.indices.max(by: { totals[$0] < totals[$1] }), totals[best] > 0 else { return CSVByte.comma }
        return candidates[best]
    }
}

// MARK: - Cells

/// What a cell holds: a number, a missing value, or text.
enum CSVCell {
    /// A finite number (with `decimalComma`, `1,5` is 1.5), or nil.
    static func number(_ cell: String, decimalComma: Bool) -> Double? {
        var text = cell
        if decimalComma && text.contains(",") && !text.contains(".") {
            text = text.replacingOccurrences(of: ",", with: ".")
        }
        guard let v = Double(text), v.isFinite else { return nil }
        return v
    }

    /// The missing markers: an empty cell, `NA`, `N/A`, `NaN`, `null`, `None`, `?` (any case).
    static func isMissing(_ cell: String) -> Bool {
        if cell.isEmpty || cell == "?" { return true }
        switch cell.lowercased() {
        case "na", "n/a", "nan", "null", "none": return true
        default: return false
        }
    }

    /// Neither a number nor missing.
    static func isText(_ cell: String, decimalComma: Bool) -> Bool {
        number(cell, decimalComma: decimalComma) == nil && !isMissing(cell)
    }

    /// How a missing cell is named in messages: `an empty cell` or `'NA'`.
    static func describe(_ cell: String) -> String {
        cell.isEmpty ? "an empty cell" : "'\(cell)'"
    }
}

// MARK: - From records to a data set

/// The rows of a CSV file gathered as a data set's columns, row by row.
struct CSVColumns {
    let options: CSVOptions
    let decimalComma: Bool
    /// Cells per row.
    let width: Int
    /// The target's index among the cells.
    let target: Int
    /// The features' names for notes (the header's, else `column 3`), and the target's.
    let names: [String]
    let targetName: String
    /// The kept rows' features, row after row; NaN where missing (under `.mean`).
    var x: [Double] = []
    var targets: [String] = []
    var targetPlaces: [(line: Int, column: Int)] = []
    /// Rows left out under `.dropRows`; rows left out for a missing target under `.mean`.
    var dropped = 0
    var droppedTargets = 0
    /// Missing values per feature column (under `.mean`).
    var missing: [Int]

    init(first: CSVRecord, header: [String]?, options: CSVOptions, decimalComma: Bool) throws(DataError) {
        self.options = options
        self.decimalComma = decimalComma
        width = first.cells.count
        guard width >= 2 else {
            throw DataError("a row needs at least 2 columns (features, then the target)", line: first.line, column: 1)
        }
        let target = try CSVColumns.targetIndex(options.target, header: header, width: width)
        self.target = target
        func name(_ j: Int) -> String {
            guard let header, j < header.count, !header[j].isEmpty else { return "column \(j + 1)" }
            return header[j]
        }
        names = (0..<width).filter { $0 != target }.map(name)
        targetName = name(target)
        missing = [Int](repeating: 0, count: width - 1)
    }

    /// The target column's index: by name (exact, else ignoring case), else by number.
    static func targetIndex(_ target: String?, header: [String]?, width: Int) throws(DataError) -> Int {
        guard let target else { return width - 1 }
        let wanted = target.trimmingCharacters(in: .whitespaces)
        if let header {
            if let j = header.firstIndex(of: wanted) { return j }
            if let j = header.firstIndex(where: { $0.lowercased() == wanted.lowercased() }) { return j }
        }
        if let k = Int(wanted) {
            if (1...width).contains(k) { return k - 1 }
            if (-width...(-1)).contains(k) { return width + k }
            throw DataError("target=\(wanted): the file has \(width) columns (1 to \(width), or -1 for the last)")
        }
        guard let header else {
            throw DataError("target=\(wanted.prefix(40)): the file has no header; give the column's number (1 to \(width))")
        }
        let shown = header.prefix(12).joined(separator: ", ") + (header.count > 12 ? ", ..." : "")
        throw DataError("target=\(wanted.prefix(40)): no column of that name (the columns: \(shown))")
    }

    /// Adds a data row: its features as numbers (or missing), its target as text.
    mutating func add(_ record: CSVRecord) throws(DataError) {
        guard record.cells.count == width else {
            throw DataError("\(record.cells.count) columns, but the first row has \(width)", line: record.line, column: 1)
        }
        var row: [Double] = []
        row.reserveCapacity(width - 1)
        for (j, cell) in record.cells.enumerated() where j != target {
            if let v = CSVCell.number(cell, decimalComma: decimalComma) {
                row.append(v)
                continue
            }
            let place = record.places[j]
            guard CSVCell.isMissing(cell) else {
                throw DataError("'\(cell.prefix(40))' is not a number", line: place.line, column: place.column)
            }
            if options.missing == .refuse {
                throw DataError("\(CSVCell.describe(cell)): a missing value (missing=drop or missing=mean)", line: place.line, column: place.column)
            }
            row.append(.nan)
        }
        let label = record.cells[target]
        if CSVCell.isMissing(label) {
            switch options.missing {
            case .refuse:
                let place = record.places[target]
                throw DataError("\(CSVCell.describe(label)): a missing target (missing=drop or missing=mean drop such rows; a target is never filled in)", line: place.line, column: place.column)
            case .dropRows: dropped += 1
            case .mean: droppedTargets += 1
            }
            return
        }
        if row.contains(where: \.isNaN) {
            switch options.missing {
            case .refuse, .dropRows:
                dropped += 1
                return
            case .mean:
                for j in row.indices where row[j].isNaN { missing[j] += 1 }
            }
        }
        x += row
        targets.append(label)
        targetPlaces.append(record.places[target])
    }

    /// The data set, and the notes on what was done.
    func dataset(name: String) throws(DataError) -> (Dataset, notes: [String]) {
        var notes: [String] = []
        if dropped > 0 { notes.append("dropped \(dropped) row\(dropped == 1 ? "" : "s") with missing values") }
        if droppedTargets > 0 { notes.append("dropped \(droppedTargets) row\(droppedTargets == 1 ? "" : "s") with a missing target (a target is never filled in)") }
        let n = targets.count
        guard n > 0 else {
            throw DataError(dropped + droppedTargets > 0 ? "no rows left: every row has a missing value" : "no data rows (an empty file?)")
        }
        var x = self.x
        if options.missing == .mean, let note = try fillMeans(&x, rows: n) { notes.append(note) }
        if options.standardize { notes += standardize(&x, rows: n) }
        let (data, classNote) = try labelled(Tensor(shape: [n, width - 1], scalars: x), name: name)
        return (data, notes: classNote.map { [$0] + notes } ?? notes)
    }

    /// Fills each missing feature value with its column's mean over the kept rows.
    func fillMeans(_ x: inout [Double], rows n: Int) throws(DataError) -> String? {
        let f = width - 1
        var filled: [String] = []
        for j in 0..<f where missing[j] > 0 {
            var sum = 0.0
            var present = 0
            for i in 0..<n where !x[i * f + j].isNaN {
                sum += x[i * f + j]
                present += 1
            }
            guard present > 0 else {
                throw DataError("the column '\(names[j])' has no values at all: there is no mean to fill in (missing=drop, or leave the column out)")
            }
            let mean = sum / Double(present)
            for i in 0..<n where x[i * f + j].isNaN { x[i * f + j] = mean }
            filled.append("\(names[j]) = \(Format.number(mean)) (\(missing[j]))")
        }
        let total = missing.reduce(0, +)
        guard total > 0 else { return nil }
        return "filled \(total) missing value\(total == 1 ? "" : "s") with the column's mean: " + filled.joined(separator: ", ")
    }

    /// Brings each feature column to mean 0 and standard deviation 1 (population's); a
    /// constant column is only centred. The notes give the means and standard deviations.
    func standardize(_ x: inout [Double], rows n: Int) -> [String] {
        let f = width - 1
        var means: [Double] = [], sds: [Double] = []
        var constant: [String] = []
        for j in 0..<f {
            var sum = 0.0
            for i in 0..<n { sum += x[i * f + j] }
            let mean = sum / Double(n)
            var squares = 0.0
            for i in 0..<n { squares += (x[i * f + j] - mean) * (x[i * f + j] - mean) }
            let isConstant = (0..<n).allSatisfy { x[$0 * f + j] == x[j] }
            let sd = isConstant ? 0 : (squares / Double(n)).squareRoot()
            for i in 0..<n { x[i * f + j] = sd > 0 ? (x[i * f + j] - mean) / sd : x[i * f + j] - mean }
            means.append(mean)
            sds.append(sd)
            if sd == 0 { constant.append(names[j]) }
        }
        var notes = [
            "standardised \(f) feature\(f == 1 ? "" : "s") (mean 0, sd 1)",
            "means: " + means.map { Format.number($0) }.joined(separator: ", "),
            "sds: " + sds.map { Format.number($0) }.joined(separator: ", "),
        ]
        if !constant.isEmpty { notes.append("constant (sd 0), only centred: " + constant.joined(separator: ", ")) }
        return notes
    }

    /// The data set with its targets: numbers through `Dataset.classify`, text labels as
    /// classes in sorted order (and a note naming them).
    func labelled(_ features: Tensor, name: String) throws(DataError) -> (Dataset, note: String?) {
        let n = targets.count
        let numbers = targets.compactMap { CSVCell.number($0, decimalComma: decimalComma) }
        if numbers.count * 2 > n {
            if numbers.count < n, let i = targets.firstIndex(where: { CSVCell.number($0, decimalComma: decimalComma) == nil }) {
                throw DataError("'\(targets[i].prefix(40))' is not a number (the target column holds numbers)", line: targetPlaces[i].line, column: targetPlaces[i].column)
            }
            return (Dataset.classify(x: features, targets: numbers, name: name), nil)
        }
        let labels = Set(targets).sorted()
        guard labels.count >= 2 else {
            throw DataError("the target column (\(targetName)) holds one label, '\(labels.first?.prefix(40) ?? "")': nothing to tell apart (target= picks another column)")
        }
        guard labels.count <= 1000 else {
            throw DataError("the target column (\(targetName)) holds \(labels.count) different labels: is it the right column? (target= picks another)")
        }
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($0.element, Double($0.offset)) })
        let y = targets.map { index[$0] ?? 0 }
        let k = labels.count
        var data = k == 2
            ? Dataset(x: features, y: Tensor(shape: [n, 1], scalars: y), classes: 2, name: name)
            : Dataset(x: features, y: Tensor(shape: [n], scalars: y), classes: k, name: name)
        data.classNames = labels
        let shown = labels.prefix(20).enumerated().map { "\($0.offset) = \($0.element)" }.joined(separator: ", ")
        return (data, "classes: " + shown + (k > 20 ? ", ... (\(k) classes)" : ""))
    }
}
