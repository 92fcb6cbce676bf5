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
    // A delegate counts the bytes as they come (a data task's own counters stay at 0 on
    // Linux), so the cap and the progress hold during the transfer.
    let receiver = Receiver(maxBytes: maxBytes)
    let session = URLSession(configuration: .default, delegate: receiver, delegateQueue: nil)
    defer { session.finishTasksAndInvalidate() }
    let task = session.dataTask(with: URLRequest(url: address, timeoutInterval: timeout))
    task.resume()
    while !receiver.wait(0.1) {
        let (got, total) = receiver.progress
        if poll(context, got, total) != 0 {
            task.cancel()
            _ = receiver.wait(5)
            return fail("interrupted; the download was not kept")
        }
    }
    let (data, status, failure, tooBig) = receiver.result
    if tooBig { return fail("\(text) sent more than \(maxBytes / 1_000_000) MB; nothing was kept") }
    if let failure { return fail("could not download \(text): \(plainWords(failure))") }
    guard let status, status == 200 else {
        return fail("could not download \(text): the server answered \(status.map(String.init) ?? "nothing")")
    }
    _ = poll(context, Int64(data.count), Int64(data.count))
    guard let memory = malloc(Swift.max(data.count, 1)) else { return fail("out of memory for \(data.count) bytes") }
    data.copyBytes(to: memory.assumingMemoryBound(to: UInt8.self), count: data.count)
    body.pointee = memory
    count.pointee = data.count
    return 0
}

/// The ABI of `nabla_fetch`: nabla checks it before calling, so a library from another
/// build says so instead of being called with the wrong arguments.
@_cdecl("nabla_fetch_abi")
public func nablaFetchABI() -> Int32 { 1 }

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

/// The answer of one transfer, gathered on URLSession's queue and read by the waiting caller.
private final class Receiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let maxBytes: Int64
    private var data = Data()
    private var status: Int?
    private var expected: Int64 = 0
    private var failure: Error?
    private var tooBig = false

    init(maxBytes: Int64) { self.maxBytes = maxBytes }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        lock.lock()
        status = (response as? HTTPURLResponse)?.statusCode
        expected = Swift.max(response.expectedContentLength, 0)
        lock.unlock()
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive chunk: Data) {
        lock.lock()
        if Int64(data.count + chunk.count) > maxBytes {
            tooBig = true
            data = Data()
            lock.unlock()
            dataTask.cancel()
            return
        }
        data.append(chunk)
        lock.unlock()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        failure = error
        lock.unlock()
        done.signal()
    }

    /// True once the transfer ended (then `result` holds its answer).
    func wait(_ seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()
        return true
    }

    var progress: (Int64, Int64) {
        lock.lock()
        defer { lock.unlock() }
        return (Int64(data.count), expected)
    }

    var result: (data: Data, status: Int?, error: Error?, tooBig: Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (data, status, tooBig ? nil : failure, tooBig)
    }
}
