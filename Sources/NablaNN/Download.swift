import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches a file over HTTP(S) in the process (no curl or md5sum needed), checks its MD5
/// always, and moves it into place only when it is whole and right.
public enum Download {
    /// Downloads `url` to `path`: into `path.part` first, renamed once its MD5 is `md5`.
    /// `progress` hears the bytes so far and the total (0 when the server does not say);
    /// `isInterrupted` is polled ten times a second and cancels the transfer.
    public static func file(
        _ url: URL, to path: String, md5: String, timeout: TimeInterval = 60,
        isInterrupted: () -> Bool = { false }, progress: (Int64, Int64) -> Void = { _, _ in }
    ) throws(DataError) {
        let data = try fetch(url, timeout: timeout, isInterrupted: isInterrupted, progress: progress)
        let got = MD5.hex(data)
        guard got == md5.lowercased() else {
            throw DataError("\(url.lastPathComponent) downloaded with MD5 \(got), expected \(md5): not kept (a broken or changed mirror?)")
        }
        let partial = path + ".part"
        do {
            try data.write(to: URL(fileURLWithPath: partial))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw DataError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The body of a GET, or an error that says why (no network, a status that is not 200,
    /// interrupted).
    static func fetch(_ url: URL, timeout: TimeInterval, isInterrupted: () -> Bool, progress: (Int64, Int64) -> Void) throws(DataError) -> Data {
        let box = Transfer()
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "GET"
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            box.finish(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
        }
        task.resume()
        while !box.wait(0.1) {
            progress(task.countOfBytesReceived, task.countOfBytesExpectedToReceive)
            let tooBig = task.countOfBytesReceived > maxBytes
            if isInterrupted() || tooBig {
                task.cancel()
                _ = box.wait(5)
                throw DataError(tooBig ? "\(url.absoluteString) sent more than \(maxBytes / 1_000_000) MB: not an MNIST file; nothing was kept"
                                       : "interrupted; the download was not kept")
            }
        }
        let (data, status, error) = box.result
        if let error { throw DataError("could not download \(url.absoluteString): \(plainWords(error))") }
        guard let status, status == 200, let data else {
            throw DataError("could not download \(url.absoluteString): the server answered \(box.result.status.map(String.init) ?? "nothing")")
        }
        progress(Int64(data.count), Int64(data.count))
        return data
    }
}

extension Download {
    /// The most a download may hold (MNIST's largest file is 10 MB, Fashion-MNIST's 26 MB).
    static let maxBytes: Int64 = 200_000_000

    /// A network error as a sentence: what happened, not a domain and a code.
    static func plainWords(_ error: Error) -> String {
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
