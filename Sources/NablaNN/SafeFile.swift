import Foundation

/// Writes files the way careful tools do (`:save`, weights, checkpoints, `:dot`).
///
/// - A symlink is written through: its target gets the new content, the link stays a link.
/// - The old file's permission bits (and, as root, its owner) are kept; a new file gets
///   0666 less the umask, as any program's would.
/// - A read-only file, a folder, a FIFO, a device (even as root: `/dev/null`) are refused
///   with the reason, and left as they were.
/// - The content goes to a temporary file beside the target, is flushed to the disk, and is
///   renamed over the target: a full disk or a crash leaves the old file whole.
public enum SafeFile {
    /// Why a file was not written; `message` is one line naming the path.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// Writes `data` to `path` as described above.
    public static func write(_ data: Data, to path: String) throws(Refusal) {
        let target = try resolve(path)
        var old = stat()
        let exists = lstat(target, &old) == 0
        if exists { try checkReplaceable(old, path: path, target: target) }
        let folder = (target as NSString).deletingLastPathComponent
        var template = Array(((folder.isEmpty ? "." : folder) + "/.nabla-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw refusal(path, errno, creating: true) }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var keep = false
        defer {
            if !keep { unlink(temporary) }
        }
        let mode = exists ? old.st_mode & 0o7777 : defaultMode()
        fchmod(fd, mode)
        if exists && getuid() == 0 { fchown(fd, old.st_uid, old.st_gid) }
        let written = data.withUnsafeBytes { writeAll(fd, $0) }
        let flushed = written == 0 ? (fsync(fd) == 0 ? 0 : errno) : written
        let closed = close(fd) == 0 ? 0 : errno
        if flushed != 0 || closed != 0 { throw refusal(path, flushed != 0 ? flushed : closed, creating: false) }
        guard rename(temporary, target) == 0 else { throw refusal(path, errno, creating: false) }
        keep = true
    }

    /// Checks, without writing, that `write` could replace or create `path`: said before a long
    /// run (`checkpoint=`, `nabla mnist --save`) rather than after its first epoch.
    public static func checkWritable(_ path: String) throws(Refusal) {
        let target = try resolve(path)
        var info = stat()
        if lstat(target, &info) == 0 { try checkReplaceable(info, path: path, target: target) }
        let folder = (target as NSString).deletingLastPathComponent
        if access(folder.isEmpty ? "." : folder, W_OK) != 0 {
            let message = refusal(path, errno, creating: true).message
            throw Refusal(message: String(message.prefix(upTo: message.range(of: "; the old file")?.lowerBound ?? message.endIndex)))
        }
    }

    /// Reads a file of at most `limit` bytes, 1 MB at a time, polling `isInterrupted` between
    /// pieces. A folder or a device (`/dev/zero`, even through a symlink) is refused before
    /// anything is read; a file past the limit is refused once the limit is passed, not read whole.
    public static func read(
        _ path: String, limit: Int, limitName: String, isInterrupted: () -> Bool = { false }
    ) throws(Refusal) -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Refusal(message: "cannot read '\(path)': \(String(cString: strerror(errno)))") }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: throw Refusal(message: "'\(path)' is a folder, not a file")
        case S_IFCHR, S_IFBLK: throw Refusal(message: "cannot read '\(path)': it is a device, not a file")
        case S_IFIFO: throw Refusal(message: "cannot read '\(path)': it is a FIFO, not a regular file")
        default: break
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Refusal(message: "cannot read '\(path)': permission denied")
        }
        defer { try? handle.close() }
        var data = Data()
        while data.count <= limit {
            if isInterrupted() { throw Refusal(message: "interrupted while reading '\(path)'; nothing was loaded") }
            let piece: Data?
            do { piece = try handle.read(upToCount: Swift.min(1 << 20, limit + 1 - data.count)) } catch {
                throw Refusal(message: "cannot read '\(path)': \(error.localizedDescription)")
            }
            guard let piece, !piece.isEmpty else { return data }
            data.append(piece)
        }
        throw Refusal(message: "'\(path)' has more than \(grouped(limit)) bytes; the limit is \(limitName) (:limits changes it)")
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(d)
        }
        return out
    }

    /// Writes text (UTF-8).
    public static func write(_ text: String, to path: String) throws(Refusal) {
        try write(Data(text.utf8), to: path)
    }

    /// The path a write lands on: the end of a chain of symlinks (at most 32 links).
    static func resolve(_ path: String) throws(Refusal) -> String {
        var current = path
        for _ in 0..<32 {
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current, &buffer, buffer.count - 1)
            guard n > 0 else { throw Refusal(message: "cannot write '\(path)': the link cannot be read") }
            let link = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = link.hasPrefix("/") ? link : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(link)
        }
        throw Refusal(message: "cannot write '\(path)': too many levels of symbolic links")
    }

    static func checkReplaceable(_ info: stat, path: String, target: String) throws(Refusal) {
        let shown = target == path ? "'\(path)'" : "'\(path)' (a link to '\(target)')"
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw Refusal(message: "cannot write \(shown): it is a folder")
        case S_IFIFO: throw Refusal(message: "cannot write \(shown): it is a FIFO, not a regular file; left as it is")
        case S_IFCHR, S_IFBLK: throw Refusal(message: "cannot write \(shown): it is a device, not a regular file; left as it is")
        default: throw Refusal(message: "cannot write \(shown): it is not a regular file; left as it is")
        }
        // Root may write anything: a file without any write bit is still read-only to us.
        if info.st_mode & 0o222 == 0 || access(target, W_OK) != 0 {
            throw Refusal(message: "cannot write \(shown): the file is read-only; left as it is (chmod u+w to allow it)")
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard let base = bytes.baseAddress else { return 0 }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return 0
    }

    static func defaultMode() -> mode_t {
        let mask = umask(0)
        umask(mask)
        return 0o666 & ~mask
    }

    static func refusal(_ path: String, _ code: Int32, creating: Bool) -> Refusal {
        let reason: String
        switch code {
        case ENOSPC: reason = "no space left on the disk"
        case EROFS: reason = "the disk is read-only"
        case EACCES, EPERM: reason = creating ? "permission denied (the folder is not writable)" : "permission denied"
        case ENOENT: reason = "no such folder"
        default: reason = String(cString: strerror(code))
        }
        return Refusal(message: "cannot write '\(path)': \(reason); the old file, if any, is unchanged")
    }
}
