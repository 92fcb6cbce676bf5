import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// The one part of nabla that speaks HTTP: a small dynamic library that nabla loads (dlopen)
// only when it downloads, so that FoundationNetworking, libcurl and OpenSSL (about 8 ms and
// 30 libraries) do not load every time nabla starts. Its one entry point has a C signature;
// `Download` in NablaNN calls it and checks what comes back.

/// Fetches `url` with a GET. On success returns 0 and hands over the body in `body`/`count`
/// (allocated here with malloc; the caller frees it). Otherwise writes a sentence into
/// `error` (at most `capacity` bytes, NUL-terminated) and returns 1. `poll(context, got,
/// total)` is called ten times a second; a non-zero answer cancels the transfer.
@_cdecl("nabla_fetch")
public func nablaFetch(
    _ url: UnsafePointer<CChar>, _ timeout: Double, _ maxBytes: Int64,
    _ poll: @convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Int32, _ context: UnsafeMutableRawPointer?,
    _ body: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ count: UnsafeMutablePointer<Int>,
    _ error: UnsafeMutablePointer<CChar>, _ capacity: Int
) -> Int32 {
    func fail(_ message: String) -> Int32 {
        let bytes = Array(message.utf8.prefix(Swift.max(capacity - 1, 0)))
        for (i, b) in bytes.enumerated() { error[i] = CChar(bitPattern: b) }
        if capacity > 0 { error[bytes.count] = 0 }
        return 1
    }
    let text = String(cString: url)
    guard let address = URL(string: text) else { return fail("'\(text)' is not a web address") }
    let box = Transfer()
    var request = URLRequest(url: address, timeoutInterval: timeout)
    request.httpMethod = "GET"
    let task = URLSession.shared.dataTask(with: request) { data, response, error in
        box.finish(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
    }
    task.resume()
    while !box.wait(0.1) {
        let got = task.countOfBytesReceived
        let stop = poll(context, got, task.countOfBytesExpectedToReceive) != 0
        if stop || got > maxBytes {
            task.cancel()
            _ = box.wait(5)
            return fail(stop ? "interrupted; the download was not kept" : "\(text) sent more than \(maxBytes / 1_000_000) MB; nothing was kept")
        }
    }
    let (data, status, failure) = box.result
    if let failure { return fail("could not download \(text): \(plainWords(failure))") }
    guard let status, status == 200, let data else {
        return fail("could not download \(text): the server answered \(status.map(String.init) ?? "nothing")")
    }
    guard let memory = malloc(Swift.max(data.count, 1)) else { return fail("out of memory for \(data.count) bytes") }
    data.copyBytes(to: memory.assumingMemoryBound(to: UInt8.self), count: data.count)
    body.pointee = memory
    count.pointee = data.count
    return 0
}

/// A network error as a sentence: what happened, not a domain and a code.
func plainWords(_ error: Error) -> String {
    guard let e = error as? URLError else { return error.localizedDescription }
    switch e.code {
    case .timedOut: return "no answer in time (timed out)"
    case .cannotFindHost, .dnsLookupFailed: return "the host is not known (offline, or a typo in the address?)"
    case .cannotConnectToHost: return "the host refused the connection"
    case .notConnectedToInternet, .networkConnectionLost: return "no network"
    case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate: return "the secure connection failed"
    default: return e.localizedDescription
    }
}

/// The answer of one transfer, handed from URLSession's queue to the waiting caller.
private final class Transfer: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stored: (Data?, Int?, Error?) = (nil, nil, nil)

    func finish(data: Data?, status: Int?, error: Error?) {
        lock.lock()
        stored = (data, status, error)
        lock.unlock()
        done.signal()
    }

    /// True once the transfer ended (then `result` holds its answer).
    func wait(_ seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()
        return true
    }

    var result: (data: Data?, status: Int?, error: Error?) {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
