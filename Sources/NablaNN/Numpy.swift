import CZlib
import Foundation
import NablaTensor

/// Weights as numpy reads them: one `.npy` array per param inside a `.npz`
/// (a zip archive; entries stored uncompressed, so `numpy.load` reads them).
/// Reading also takes `numpy.savez_compressed` files (deflate, through zlib)
/// and float32 arrays (`<f4`), which PyTorch users often save.
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

    /// What a `.npy` header promises: the shape, the width of an element (8: float64, 4:
    /// float32) and where the numbers start. Checked before any number is read.
    struct Header {
        var shape: [Int]
        var width: Int
        var dataOffset: Int
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
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw DataError("\(name): truncated .npy header") }
        let length = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard length <= headerLimit, bytes.count >= headerStart + length else { throw DataError("\(name): truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<headerStart + length], as: UTF8.self)
        let f8 = header.contains("'<f8'") || header.contains("'float64'")
        let f4 = header.contains("'<f4'") || header.contains("'float32'")
        guard f8 || f4 else { throw DataError("\(name): only little-endian float64 or float32 arrays are read (header: \(header.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)))") }
        guard !header.contains("'fortran_order': True") else { throw DataError("\(name): Fortran-ordered arrays are not read; save it in C order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw DataError("\(name): no shape in the .npy header")
        }
        var shape: [Int] = []
        for part in header[open.upperBound..<close].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            guard let d = Int(text), d >= 0 else { throw DataError("\(name): bad dimension '\(text.prefix(40))' in the .npy header") }
            shape.append(d)
        }
        guard shape.count <= Shape.maxRank else { throw DataError("\(name): \(shape.count) dimensions (nabla's tensors have at most \(Shape.maxRank))") }
        do { try Shape.checkSize(shape) } catch { throw DataError("\(name): \(error.message)") }
        return Header(shape: shape, width: f8 ? 8 : 4, dataOffset: headerStart + length)
    }

    /// The longest `.npy` header read (numpy writes under 200 bytes; its own limit is 64 KB).
    static let headerLimit = 65_536

    /// Reads a `.npy` array of float64 or float32, C order.
    public static func readNPY(_ data: Data, name: String) throws(DataError) -> Tensor {
        let bytes = [UInt8](data)
        let h = try header(bytes, name: name)
        guard bytes.count == h.total else {
            throw DataError("\(name): the header promises \(h.count) numbers (\(h.count * h.width) bytes), the array holds \(bytes.count - h.dataOffset) bytes")
        }
        var values = [Double](repeating: 0, count: h.count)
        for i in 0..<h.count {
            let o = h.dataOffset + i * h.width
            if h.width == 8 {
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[o + b]) << (8 * b) }
                values[i] = Double(bitPattern: bits)
            } else {
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(bytes[o + b]) << (8 * b) }
                values[i] = Double(Float(bitPattern: bits))
            }
        }
        return Tensor(shape: h.shape, scalars: values)
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
            let kind = h.width == 8 ? "float64" : "float32"
            return DataError("\(name): the zip directory claims \(stored) bytes but the .npy header promises \(Shape.describe(h.shape)) \(kind) (\(h.total) bytes); corrupt, not read")
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
