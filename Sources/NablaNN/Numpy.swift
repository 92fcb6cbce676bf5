import CZlib
import Foundation
import NablaTensor

/// Weights as numpy reads them: one `.npy` array per param inside a `.npz`
/// (a zip archive; entries stored uncompressed, so `numpy.load` reads them).
/// Reading also takes `numpy.savez_compressed` files (deflate, through zlib), float32 arrays
/// (`<f4`, which PyTorch users often save), float16, integer and bool arrays, big-endian
/// arrays (converted) and Fortran-ordered ones (transposed into row-major).
public enum Numpy {
    // MARK: - .npy

    /// One array in `.npy` format, version 1.0, little-endian float64, row-major.
    public static func npy(_ t: Tensor) -> Data {
        let shape: String
        switch t.rank {
        case 0: shape = "()"
        case 1: shape = "(\(t.shape[0]),)"
        default: shape = "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
        // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in \n.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let length = UInt16(header.utf8.count)
        data += Data([UInt8(length & 0xff), UInt8(length >> 8)]) + Data(header.utf8)
        var values = t.scalars.map { $0.bitPattern.littleEndian }
        data += Data(bytes: &values, count: values.count * 8)
        return data
    }

    /// What a `.npy` header promises: the shape, how each element is stored and where the
    /// numbers start. Checked before any number is read.
    struct Header {
        var shape: [Int]
        var element: StoredElement
        /// True for `'>'` arrays (most significant byte first): converted while reading.
        var bigEndian: Bool
        /// True for `'fortran_order': True` (column-major): transposed into row-major while reading.
        var fortranOrder: Bool
        var dataOffset: Int
        var width: Int { element.width }
        var count: Int { Shape.count(shape) }
        /// The whole array's size in bytes, header included.
        var total: Int { dataOffset + count * width }
    }

    /// Parses the header at the start of `bytes` (which may hold only the first bytes).
    static func header(_ bytes: [UInt8], name: String) throws(DataError) -> Header {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw DataError("\(name): not a .npy array (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        guard (1...3).contains(major) else { throw DataError("\(name): .npy format version \(major) is not read (1, 2 and 3 are)") }
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw DataError("\(name): truncated .npy header") }
        let length = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard length <= headerLimit, bytes.count >= headerStart + length else { throw DataError("\(name): truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<headerStart + length], as: UTF8.self)
        let shown = header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
        let (element, bigEndian) = try dtype(header, name: name)
        let fortran = value(of: "fortran_order", in: header)
        guard let fortran, fortran.hasPrefix("True") || fortran.hasPrefix("False") else {
            throw DataError("\(name): no fortran_order in the .npy header (header: \(shown))")
        }
        let shape = try shape(header, name: name)
        return Header(shape: shape, element: element, bigEndian: bigEndian, fortranOrder: fortran.hasPrefix("True"), dataOffset: headerStart + length)
    }

    /// The header's `'descr'`: how an element is stored, and whether it is big-endian.
    static func dtype(_ header: String, name: String) throws(DataError) -> (StoredElement, bigEndian: Bool) {
        let shown = header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
        guard let rest = value(of: "descr", in: header) else { throw DataError("\(name): no descr in the .npy header (header: \(shown))") }
        guard let quote = rest.first, quote == "'" || quote == "\"", let close = rest.dropFirst().firstIndex(of: quote) else {
            throw DataError("\(name): structured arrays (several fields per element) are not read (header: \(shown))")
        }
        let descr = String(rest[rest.index(after: rest.startIndex)..<close])
        guard let found = StoredElement.numpy(descr) else {
            throw DataError("\(name): the dtype '\(descr.prefix(40))' is not read (float64, float32, float16, integers of 1 to 8 bytes and bool are)")
        }
        return found
    }

    /// The header's `'shape'`, checked against nabla's rank and size limits.
    static func shape(_ header: String, name: String) throws(DataError) -> [Int] {
        guard let rest = value(of: "shape", in: header), rest.first == "(", let close = rest.firstIndex(of: ")") else {
            throw DataError("\(name): no shape in the .npy header")
        }
        var shape: [Int] = []
        for part in rest[rest.index(after: rest.startIndex)..<close].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            guard let d = Int(text), d >= 0 else { throw DataError("\(name): bad dimension '\(text.prefix(40))' in the .npy header") }
            shape.append(d)
        }
        guard shape.count <= Shape.maxRank else { throw DataError("\(name): \(shape.count) dimensions (nabla's tensors have at most \(Shape.maxRank))") }
        do { try Shape.checkSize(shape) } catch { throw DataError("\(name): \(error.message)") }
        return shape
    }

    /// What follows `'key':` in a header dict (spaces skipped), or nil when the key is absent.
    static func value(of key: String, in header: String) -> Substring? {
        guard let found = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        let rest = header[found.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        return rest.dropFirst().drop { $0 == " " }
    }

    /// The longest `.npy` header read (numpy writes under 200 bytes; its own limit is 64 KB).
    static let headerLimit = 65_536

    /// Reads a `.npy` array: float64, float32, float16, signed or unsigned integers (1 to 8
    /// bytes) or bool, little- or big-endian, C or Fortran order; every number becomes a
    /// float64 (an integer past 2^53 that float64 cannot hold exactly is refused).
    public static func readNPY(_ data: Data, name: String) throws(DataError) -> Tensor {
        let bytes = [UInt8](data)
        let h = try header(bytes, name: name)
        guard bytes.count == h.total else {
            throw DataError("\(name): the header promises \(h.count) numbers (\(h.count * h.width) bytes), the array holds \(bytes.count - h.dataOffset) bytes")
        }
        let values = try h.element.decode(bytes, from: h.dataOffset, count: h.count, bigEndian: h.bigEndian, name: name)
        return Tensor(shape: h.shape, scalars: h.fortranOrder ? rowMajor(fromColumnMajor: values, shape: h.shape) : values)
    }

    /// The elements of a column-major (Fortran-order) array, in row-major order: the element
    /// at index (i0, ..., ik) sits at i0 + n0·(i1 + n1·(i2 + ...)) in `values`.
    static func rowMajor(fromColumnMajor values: [Double], shape: [Int]) -> [Double] {
        let rank = shape.count
        guard rank > 1, !values.isEmpty else { return values }
        var strides = [Int](repeating: 1, count: rank)
        for axis in 1..<rank { strides[axis] = strides[axis - 1] * shape[axis - 1] }
        var index = [Int](repeating: 0, count: rank)
        var source = 0
        var out: [Double] = []
        out.reserveCapacity(values.count)
        for _ in 0..<values.count {
            out.append(values[source])
            // The next row-major index: the last axis moves fastest.
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < shape[axis] { break }
                source -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return out
    }

    // MARK: - .npz

    /// A zip archive of `NAME.npy` entries, stored, in the given order.
    public static func npz(_ arrays: [(String, Tensor)]) -> Data {
        var out = Data()
        var central = Data()
        func le16(_ v: Int) -> Data { Data([UInt8(v & 0xff), UInt8(v >> 8 & 0xff)]) }
        func le32(_ v: UInt32) -> Data { Data([UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24 & 0xff)]) }
        for (name, tensor) in arrays {
            let body = npy(tensor)
            let file = Data((name + ".npy").utf8)
            let crc = body.withUnsafeBytes { UInt32(crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count))) }
            let offset = UInt32(out.count)
            // Flag bit 11: the name is UTF-8 (params may be called θ).
            let common = le16(20) + le16(0x0800) + le16(0) + le16(0) + le16(0x21) + le32(crc) + le32(UInt32(body.count)) + le32(UInt32(body.count)) + le16(file.count)
            out += le32(0x0403_4b50) + common + le16(0) + file + body
            central += le32(0x0201_4b50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + file
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(arrays.count) + le16(arrays.count) + le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return out
    }

    /// The arrays of a `.npz` file, by name (without `.npy`), in the archive's order.
    ///
    /// Nothing is inflated before its `.npy` header is read and found to promise exactly the
    /// size the zip directory claims; inflation stops at that size; every member's CRC-32 is
    /// checked (as numpy does); `isInterrupted` is polled between chunks.
    public static func readNPZ(_ data: Data, name: String, isInterrupted: () -> Bool = { false }) throws(DataError) -> [(String, Tensor)] {
        let b = [UInt8](data)
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard b.count >= 22 else { throw DataError("\(name): too short to be a .npz (zip) file") }
        var end = b.count - 22
        while end >= 0 && !(b[end] == 0x50 && b[end + 1] == 0x4b && b[end + 2] == 5 && b[end + 3] == 6) { end -= 1 }
        guard end >= 0 else { throw DataError("\(name): not a .npz file (no zip directory at its end)") }
        let entries = u16(end + 10)
        var o = u32(end + 16)
        var out: [(String, Tensor)] = []
        for _ in 0..<entries {
            guard o + 46 <= b.count, u32(o) == 0x0201_4b50 else { throw DataError("\(name): corrupt zip directory") }
            let member = Member(method: u16(o + 10), crc: UInt32(u32(o + 16)), compressed: u32(o + 20), size: u32(o + 24))
            let nameLength = u16(o + 28), extra = u16(o + 30), comment = u16(o + 32), local = u32(o + 42)
            guard o + 46 + nameLength <= b.count else { throw DataError("\(name): corrupt zip directory") }
            let entry = String(decoding: b[o + 46..<o + 46 + nameLength], as: UTF8.self)
            o += 46 + nameLength + extra + comment
            guard entry.hasSuffix(".npy") else { continue }
            guard local + 30 <= b.count, u32(local) == 0x0403_4b50 else { throw DataError("\(name): corrupt entry \(entry)") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + member.compressed <= b.count else { throw DataError("\(name): truncated entry \(entry)") }
            let body = try member.read(b[start..<start + member.compressed], name: "\(name): \(entry)", isInterrupted: isInterrupted)
            out.append((String(entry.dropLast(4)), try readNPY(Data(body), name: "\(name): \(entry)")))
        }
        return out
    }

    /// One member of a zip archive, as its directory entry describes it.
    struct Member {
        var method: Int
        var crc: UInt32
        var compressed: Int
        var size: Int

        /// The member's bytes: its `.npy` header checked against the claimed size first,
        /// then inflated (at most `size` bytes) and checked against the CRC-32.
        func read(_ raw: ArraySlice<UInt8>, name: String, isInterrupted: () -> Bool) throws(DataError) -> [UInt8] {
            let body: [UInt8]
            switch method {
            case 0:
                let h = try Numpy.header(Array(raw.prefix(Numpy.headerLimit + 12)), name: name)
                guard raw.count == size, h.total == size else { throw mismatch(h, name: name, stored: raw.count) }
                body = Array(raw)
            case 8:
                let inflater = try Inflater(raw, name: name)
                let prefix = try inflater.next(Swift.min(size, Numpy.headerLimit + 12), isInterrupted: isInterrupted)
                let h = try Numpy.header(prefix, name: name)
                guard h.total == size else { throw mismatch(h, name: name, stored: size) }
                body = try prefix + inflater.next(size - prefix.count, isInterrupted: isInterrupted)
                guard inflater.atEnd() else { throw DataError("\(name): the deflate data does not end where the zip directory says (\(size) bytes); corrupt") }
            default:
                throw DataError("\(name) uses zip method \(method) (stored and deflate are read)")
            }
            let actual = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            guard actual == crc else {
                throw DataError("\(name): the CRC-32 does not match (\(hex(actual)) computed, \(hex(crc)) stored): the file is corrupt; nothing is loaded")
            }
            return body
        }

        func mismatch(_ h: Numpy.Header, name: String, stored: Int) -> DataError {
            return DataError("\(name): the zip directory claims \(stored) bytes but the .npy header promises \(Shape.describe(h.shape)) \(h.element.name) (\(h.total) bytes); corrupt, not read")
        }

        func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
    }

    /// Raw deflate data (a zip member), inflated a piece at a time: never more than asked.
    final class Inflater {
        private var stream = z_stream()
        private var input: [UInt8]
        private let name: String
        private var finished = false

        init(_ raw: ArraySlice<UInt8>, name: String) throws(DataError) {
            input = Array(raw)
            self.name = name
            guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw DataError("\(name): zlib could not start")
            }
        }

        deinit { inflateEnd(&stream) }

        /// The next `count` bytes of the inflated data, 1 MB at a time (Ctrl-C between pieces).
        func next(_ count: Int, isInterrupted: () -> Bool) throws(DataError) -> [UInt8] {
            var output = [UInt8](repeating: 0, count: count)
            var produced = 0
            while produced < count {
                if isInterrupted() { throw DataError("\(name): interrupted; nothing is loaded") }
                guard !finished else { throw DataError("\(name): less data than the zip directory claims; corrupt") }
                let (code, n) = step(&output, at: produced, count: Swift.min(count - produced, 1 << 20))
                produced += n
                switch code {
                case Z_STREAM_END: finished = true
                case Z_OK: break
                default: throw DataError("\(name): corrupt deflate data")
                }
            }
            return output
        }

        /// True when the data ends where it was read to (nothing more would come out).
        func atEnd() -> Bool {
            if finished { return true }
            var probe = [UInt8](repeating: 0, count: 1)
            let (code, n) = step(&probe, at: 0, count: 1)
            finished = code == Z_STREAM_END
            return finished && n == 0
        }

        private func step(_ output: inout [UInt8], at offset: Int, count: Int) -> (code: Int32, produced: Int) {
            let consumed = Int(stream.total_in)
            return input.withUnsafeMutableBufferPointer { inp in
                output.withUnsafeMutableBufferPointer { outp -> (Int32, Int) in
                    stream.next_in = inp.baseAddress.map { $0 + consumed }
                    stream.avail_in = uInt(inp.count - consumed)
                    stream.next_out = outp.baseAddress.map { $0 + offset }
                    stream.avail_out = uInt(count)
                    let code = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (code, count - Int(stream.avail_out))
                }
            }
        }

    }
}

/// How the numbers of a file (`.npy`, `.safetensors`) are stored; each is read as a float64.
enum StoredElement: Equatable, Sendable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8
    case uint64, uint32, uint16, uint8
    case bool

    /// Bytes per element.
    var width: Int {
        switch self {
        case .float64, .int64, .uint64: 8
        case .float32, .int32, .uint32: 4
        case .float16, .bfloat16, .int16, .uint16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// numpy's name for it.
    var name: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint64: "uint64"
        case .uint32: "uint32"
        case .uint16: "uint16"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }

    /// A numpy `descr` (`'<f8'`, `'>i4'`, `'|u1'`, `'|b1'`, or the names `float64`, `float32`):
    /// the element and whether it is big-endian; nil for any other.
    static func numpy(_ descr: String) -> (StoredElement, bigEndian: Bool)? {
        switch descr {
        case "float64": return (.float64, false)
        case "float32": return (.float32, false)
        default: break
        }
        guard let order = descr.first, order == "<" || order == ">" || order == "|" else { return nil }
        let element: StoredElement
        switch descr.dropFirst() {
        case "f8": element = .float64
        case "f4": element = .float32
        case "f2": element = .float16
        case "i8": element = .int64
        case "i4": element = .int32
        case "i2": element = .int16
        case "i1": element = .int8
        case "u8": element = .uint64
        case "u4": element = .uint32
        case "u2": element = .uint16
        case "u1": element = .uint8
        case "b1": element = .bool
        default: return nil
        }
        // '|' (byte order does not apply) only for one-byte elements.
        guard order != "|" || element.width == 1 else { return nil }
        return (element, order == ">" && element.width > 1)
    }

    /// The `count` elements stored from `offset` of `bytes`, as float64 (the caller has checked
    /// that they are there). An integer float64 cannot hold exactly (past 2^53) is refused.
    func decode(_ bytes: [UInt8], from offset: Int, count: Int, bigEndian: Bool, name: String) throws(DataError) -> [Double] {
        let w = width
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let o = offset + i * w
            var bits: UInt64 = 0
            if bigEndian {
                for b in 0..<w { bits = bits << 8 | UInt64(bytes[o + b]) }
            } else {
                for b in 0..<w { bits |= UInt64(bytes[o + b]) << (8 * b) }
            }
            guard let v = value(bits) else {
                let shown = self == .int64 ? String(Int64(bitPattern: bits)) : String(bits)
                throw DataError("\(name): element \(i) is the integer \(shown), which float64 cannot hold exactly (past 2^53); nothing is loaded")
            }
            values[i] = v
        }
        return values
    }

    /// One element from its bits (in the low `width` bytes); nil for an integer past 2^53 that
    /// float64 would round.
    func value(_ bits: UInt64) -> Double? {
        switch self {
        case .float64: return Double(bitPattern: bits)
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .float16: return StoredElement.half(UInt16(truncatingIfNeeded: bits))
        case .bfloat16: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits) << 16))
        case .int64:
            let v = Int64(bitPattern: bits)
            let d = Double(v)
            return Int64(exactly: d) == v ? d : nil
        case .int32: return Double(Int32(truncatingIfNeeded: bits))
        case .int16: return Double(Int16(truncatingIfNeeded: bits))
        case .int8: return Double(Int8(truncatingIfNeeded: bits))
        case .uint64:
            let d = Double(bits)
            return UInt64(exactly: d) == bits ? d : nil
        case .uint32, .uint16, .uint8: return Double(bits)
        case .bool: return bits == 0 ? 0 : 1
        }
    }

    /// An IEEE 754 half-precision number (1 sign bit, 5 exponent bits, 10 fraction bits).
    static func half(_ h: UInt16) -> Double {
        let sign: Double = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int(h >> 10 & 0x1f)
        let fraction = Double(h & 0x3ff)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1024 + fraction) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
        }
    }
}
