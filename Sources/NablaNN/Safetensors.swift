import Foundation
import NablaTensor

/// Weights in Hugging Face's `.safetensors` format, which PyTorch and JAX users share:
/// an 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype, shape
/// and byte range (`{"W1": {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]}, ...}`,
/// with an optional `"__metadata__"` of strings), then the data: row-major, little-endian,
/// offsets counted from the end of the header.
public enum Safetensors {
    /// The element types nabla writes (reading takes more: see `decode`).
    public enum DType: String, Sendable, Equatable, CaseIterable {
        /// float64: exact.
        case f64 = "F64"
        /// float32: half the size, each number rounded to float32.
        case f32 = "F32"
    }

    /// The longest header read (the format's own readers refuse more than 100 MB).
    static let headerLimit = 100_000_000

    /// The arrays as a `.safetensors` file, in the given order, with
    /// `"__metadata__": {"generator": "nabla"}`. The header is padded with spaces to a multiple
    /// of 8 bytes, so every tensor's data is aligned to its element. A name repeated, or the
    /// reserved name `__metadata__`, is left out (a JSON object holds a key once).
    public static func encode(_ arrays: [(String, Tensor)], dtype: DType = .f64) -> Data {
        var seen: Set<String> = ["__metadata__"]
        var entries = [#""__metadata__":{"generator":"nabla"}"#]
        var body = Data()
        for (name, tensor) in arrays where seen.insert(name).inserted {
            let begin = body.count
            switch dtype {
            case .f64:
                var values = tensor.scalars.map { $0.bitPattern.littleEndian }
                body += Data(bytes: &values, count: values.count * 8)
            case .f32:
                var values = tensor.scalars.map { Float($0).bitPattern.littleEndian }
                body += Data(bytes: &values, count: values.count * 4)
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(json(name) + #":{"dtype":"\#(dtype.rawValue)","shape":[\#(shape)],"data_offsets":[\#(begin),\#(body.count)]}"#)
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out = Data()
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i)))) }
        out += Data(header)
        out += body
        return out
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func json(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// The tensors of a `.safetensors` file, in the order of their data in the file, each as
    /// float64: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL are read
    /// (an integer past 2^53, which float64 cannot hold exactly, is refused). `__metadata__`
    /// is skipped. Everything is checked before a number is read: the header's length
    /// (at most 100 MB) and JSON, each dtype, shape (nabla's rank and size limits) and byte
    /// range (inside the data, exactly the shape's size, no two overlapping).
    public static func decode(_ data: Data, name: String) throws(DataError) -> [(String, Tensor)] {
        let bytes = [UInt8](data)
        let (entries, start) = try header(bytes, name: name)
        var out: [(String, Tensor)] = []
        for entry in entries {
            let values = try entry.element.decode(bytes, from: start + entry.begin, count: Shape.count(entry.shape), bigEndian: false, name: "\(name): \(entry.name)")
            out.append((entry.name, Tensor(shape: entry.shape, scalars: values)))
        }
        return out
    }

    /// One tensor as the header describes it (offsets from the start of the data).
    struct Entry {
        var name: String
        var element: StoredElement
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// The header's tensors, checked and sorted by where their data starts, and where the data starts.
    static func header(_ bytes: [UInt8], name: String) throws(DataError) -> (entries: [Entry], dataStart: Int) {
        guard bytes.count >= 8 else { throw DataError("\(name): too short to be a .safetensors file (\(bytes.count) bytes)") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(headerLimit) else {
            throw DataError("\(name): the header claims \(n) bytes (more than 100 MB): not a .safetensors file, or corrupt")
        }
        let length = Int(n)
        guard 8 + length <= bytes.count else {
            throw DataError("\(name): the header claims \(length) bytes, the file holds \(bytes.count - 8) after the length: truncated, or not a .safetensors file")
        }
        guard length >= 2, bytes[8] == UInt8(ascii: "{") else { throw DataError("\(name): not a .safetensors file (no JSON header)") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes[8..<8 + length]))
        } catch {
            throw DataError("\(name): the header is not valid JSON: corrupt, or not a .safetensors file")
        }
        guard let described = object as? [String: Any] else { throw DataError("\(name): the header is not a JSON object") }
        let size = bytes.count - 8 - length
        var entries: [Entry] = []
        for (key, value) in described where key != "__metadata__" {
            entries.append(try entry(key, value, dataSize: size, name: name))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw DataError("\(name): the data of '\(a.name)' and '\(b.name)' overlap: corrupt")
        }
        return (entries, 8 + length)
    }

    /// One tensor's description, checked against the data's size.
    static func entry(_ key: String, _ value: Any, dataSize: Int, name: String) throws(DataError) -> Entry {
        let at = "\(name): '\(key.prefix(80))'"
        guard let info = value as? [String: Any] else { throw DataError("\(at) is not described by a JSON object: corrupt") }
        guard let dtype = info["dtype"] as? String else { throw DataError("\(at) has no dtype") }
        guard let element = element(dtype) else {
            throw DataError("\(at): the dtype \(dtype.prefix(20)) is not read (F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL are)")
        }
        guard let dims = info["shape"] as? [Any], let shape = integers(dims), shape.allSatisfy({ $0 >= 0 }) else {
            throw DataError("\(at): the shape is not a list of non-negative whole numbers")
        }
        guard shape.count <= Shape.maxRank else { throw DataError("\(at): \(shape.count) dimensions (nabla's tensors have at most \(Shape.maxRank))") }
        do { try Shape.checkSize(shape) } catch { throw DataError("\(at): \(error.message)") }
        guard let list = info["data_offsets"] as? [Any], let offsets = integers(list), offsets.count == 2 else {
            throw DataError("\(at): data_offsets is not a pair of whole numbers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard 0 <= begin, begin <= end, end <= dataSize else {
            throw DataError("\(at): data_offsets [\(begin), \(end)] fall outside the data (\(dataSize) bytes): truncated or corrupt")
        }
        let expected = Shape.count(shape) * element.width
        guard end - begin == expected else {
            throw DataError("\(at): \(Shape.describe(shape)) \(dtype) takes \(expected) bytes, data_offsets [\(begin), \(end)] hold \(end - begin): corrupt")
        }
        return Entry(name: key, element: element, shape: shape, begin: begin, end: end)
    }

    /// The numbers of a JSON list when every one is a whole number (not a bool, not 2.0), else nil.
    static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for value in values {
            guard let number = value as? NSNumber, !["c", "d", "f"].contains(String(cString: number.objCType)), let i = value as? Int else { return nil }
            out.append(i)
        }
        return out
    }

    /// The element type a safetensors dtype names, or nil.
    static func element(_ dtype: String) -> StoredElement? {
        switch dtype {
        case "F64": .float64
        case "F32": .float32
        case "F16": .float16
        case "BF16": .bfloat16
        case "I64": .int64
        case "I32": .int32
        case "I16": .int16
        case "I8": .int8
        case "U64": .uint64
        case "U32": .uint32
        case "U16": .uint16
        case "U8": .uint8
        case "BOOL": .bool
        default: nil
        }
    }
}
