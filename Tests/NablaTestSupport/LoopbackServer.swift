import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal web server on the loopback address, in the test process: GET /NAME answers
/// `files[NAME]` (200) or 404, one request per connection, until `body` returns.
public func withLoopbackServer(_ files: [String: Data], _ body: (String) throws -> Void) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0, listen(fd, 8) == 0 else { throw CocoaError(.fileWriteUnknown) }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    let port = Int(UInt16(bigEndian: address.sin_port))
    let thread = Thread {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(client, &buffer, buffer.count)
            let request = String(decoding: buffer.prefix(Swift.max(n, 0)), as: UTF8.self)
            let path = request.split(separator: " ").dropFirst().first.map { String($0.dropFirst()) } ?? ""
            var reply: Data
            if let body = files[path] {
                reply = Data("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            } else {
                reply = Data("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
            }
            // MSG_NOSIGNAL: a client that hangs up early (a capped download) is no SIGPIPE.
            reply.withUnsafeBytes { buffer in
                var sent = 0
                while sent < buffer.count, let base = buffer.baseAddress {
                    let n = send(client, base + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                    if n <= 0 { break }
                    sent += n
                }
            }
            close(client)
        }
    }
    thread.start()
    defer { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    try body("http://127.0.0.1:\(port)/")
}

