#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lines of a file descriptor (standard input), read 64 KB at a time; a line longer than
/// `limit` bytes ends the input with `problem` set, after reading at most the limit.
public struct InputLines {
    let fd: Int32
    /// The longest line read; a closure, so a `:limits script=N` in the input holds for what follows.
    let limit: () -> Int
    private var pending: [UInt8] = []
    private var start = 0
    /// Bytes from `start` up to here hold no newline (each byte is looked at once).
    private var scanned = 0
    private var ended = false
    private var lineNumber = 0
    public private(set) var problem: String?

    public init(fd: Int32, limit: @escaping () -> Int) {
        self.fd = fd
        self.limit = limit
    }

    public mutating func next() -> String? {
        while true {
            if let newline = newlineIndex() {
                let line = String(decoding: pending[start..<newline], as: UTF8.self)
                start = newline + 1
                scanned = start
                lineNumber += 1
                return line
            }
            let limit = self.limit()
            if pending.count - start > limit {
                problem = "standard input: line \(lineNumber + 1) has more than \(limit) bytes; the limit is script=\(limit) (:limits script=N changes it)"
                return nil
            }
            if ended {
                guard start < pending.count else { return nil }
                let line = String(decoding: pending[start...], as: UTF8.self)
                start = pending.count
                lineNumber += 1
                return line
            }
            fill()
        }
    }

    private mutating func newlineIndex() -> Int? {
        let found = pending.withUnsafeBufferPointer { buffer -> Int? in
            var i = Swift.max(scanned, start)
            while i < buffer.count {
                if buffer[i] == 10 { return i }
                i += 1
            }
            return nil
        }
        if found == nil { scanned = pending.count }
        return found
    }

    private mutating func fill() {
        if start > 0 {
            pending.removeFirst(start)
            scanned -= start
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                ended = true
                return
            }
            pending.append(contentsOf: chunk[0..<n])
            return
        }
    }
}
