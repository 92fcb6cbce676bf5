#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Fetches a file over HTTP(S) in the process (no curl or md5sum needed), checks its MD5
/// always, and moves it into place only when it is whole and right. The HTTP part lives in
/// libNablaFetch (Sources/NablaFetch), loaded only when a download starts, so nabla's
/// start-up does not pay for libcurl and OpenSSL.
public enum Download {
    /// The most a download may hold (MNIST's largest file is 10 MB, Fashion-MNIST's 26 MB).
    public static let maxBytes: Int64 = 200_000_000

    /// Downloads `url` to `path`: into `path.part` first, renamed once its MD5 is `md5`.
    /// `progress` hears the bytes so far and the total (0 when the server does not say);
    /// `isInterrupted` is polled ten times a second and cancels the transfer.
    public static func file(
        _ url: URL, to path: String, md5: String, timeout: TimeInterval = 60, maxBytes: Int64 = Download.maxBytes,
        isInterrupted: () -> Bool = { false }, progress: (Int64, Int64) -> Void = { _, _ in }
    ) throws(DataError) {
        let data = try fetch(url, timeout: timeout, maxBytes: maxBytes, isInterrupted: isInterrupted, progress: progress)
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

    /// The signature of `nabla_fetch` in libNablaFetch.
    typealias FetchFunction = @convention(c) (
        UnsafePointer<CChar>, Double, Int64, @convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Int32, UnsafeMutableRawPointer?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>, Int
    ) -> Int32

    /// Where libNablaFetch is: `$NABLA_FETCH_LIBRARY`, else beside the running program.
    static func library() -> String {
        if let path = ProcessInfo.processInfo.environment["NABLA_FETCH_LIBRARY"], !path.isEmpty { return path }
        let program = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executableURL?.resolvingSymlinksInPath().path ?? CommandLine.arguments[0]
        #if os(macOS)
        let file = "libNablaFetch.dylib"
        #else
        let file = "libNablaFetch.so"
        #endif
        return (program as NSString).deletingLastPathComponent + "/" + file
    }

    /// The body of a GET, or an error that says why (no network, a status that is not 200,
    /// interrupted, the downloader missing).
    static func fetch(_ url: URL, timeout: TimeInterval, maxBytes: Int64, isInterrupted: () -> Bool, progress: (Int64, Int64) -> Void) throws(DataError) -> Data {
        let path = library()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw DataError("the downloader \(path) cannot be loaded (\(reason)); build it with swift build (scripts/nabla does), or put the files in place by hand")
        }
        typealias ABI = @convention(c) () -> Int32
        guard let abi = dlsym(handle, "nabla_fetch_abi"), unsafeBitCast(abi, to: ABI.self)() == 1,
              let symbol = dlsym(handle, "nabla_fetch")
        else { throw DataError("\(path) is from another version of nabla: rebuild it (swift build --product NablaFetch)") }
        let fetch = unsafeBitCast(symbol, to: FetchFunction.self)
        return try withoutActuallyEscaping(isInterrupted) { stop throws(DataError) in
            try withoutActuallyEscaping(progress) { report throws(DataError) in
                var hooks = Hooks(stop: stop, report: report)
                var body: UnsafeMutableRawPointer?
                var count = 0
                var error = [CChar](repeating: 0, count: 1024)
                let status = withUnsafeMutablePointer(to: &hooks) { context in
                    fetch(url.absoluteString, timeout, maxBytes, { context, got, total in
                        guard let hooks = context?.assumingMemoryBound(to: Hooks.self) else { return 0 }
                        hooks.pointee.report(got, total)
                        return hooks.pointee.stop() ? 1 : 0
                    }, context, &body, &count, &error, error.count)
                }
                guard status == 0, let body else {
                    throw DataError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
                defer { free(body) }
                return Data(bytes: body, count: count)
            }
        }
    }

    /// What the C callback reaches through its context pointer.
    struct Hooks {
        var stop: () -> Bool
        var report: (Int64, Int64) -> Void
    }
}
