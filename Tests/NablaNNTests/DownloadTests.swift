import Foundation
import NablaTestSupport
@testable import NablaNN
import Testing

/// The error `body` throws, as text; nil when it throws none.
func failure(_ body: () throws(DataError) -> Void) -> String? {
    do { try body() } catch { return error.description }
    return nil
}

@Suite("Downloads in the process, checked by MD5 (issue 13)")
struct DownloadTests {
    @Test("a file whose MD5 matches is kept; a wrong MD5, a 404 or no server keep nothing and say why")
    func download() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-dl-\(UUID().uuidString)").path
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try withLoopbackServer(["hello.gz": Data("hello".utf8), "big.gz": Data(repeating: 7, count: 100_000)]) { base in
            // MD5("hello") = 5d41402abc4b2a76b9719d911017c592 (a well-known value).
            let good = try #require(URL(string: base + "hello.gz"))
            try Download.file(good, to: out + "/hello.gz", md5: "5d41402abc4b2a76b9719d911017c592")
            #expect(try String(contentsOfFile: out + "/hello.gz", encoding: .utf8) == "hello")
            let wrong = failure { () throws(DataError) in try Download.file(good, to: out + "/bad.gz", md5: "00000000000000000000000000000000") }
            #expect(wrong?.contains("downloaded with MD5 5d41402abc4b2a76b9719d911017c592, expected 00000000000000000000000000000000: not kept") == true, "\(wrong ?? "no error")")
            // Past the cap the transfer stops and nothing is kept; progress hears the bytes.
            let big = try #require(URL(string: base + "big.gz"))
            let capped = failure { () throws(DataError) in try Download.file(big, to: out + "/big.gz", md5: "x", maxBytes: 1000) }
            #expect(capped?.contains("sent more than 0 MB; nothing was kept") == true, "\(capped ?? "no error")")
            var heard: Int64 = 0
            try Download.file(good, to: out + "/again.gz", md5: "5d41402abc4b2a76b9719d911017c592", progress: { got, _ in heard = Swift.max(heard, got) })
            #expect(heard == 5)
            let missing = try #require(URL(string: base + "nothere.gz"))
            let notFound = failure { () throws(DataError) in try Download.file(missing, to: out + "/n.gz", md5: "x") }
            #expect(notFound?.contains("the server answered 404") == true, "\(notFound ?? "no error")")
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/bad.gz") && !FileManager.default.fileExists(atPath: out + "/bad.gz.part"))
        #expect(!FileManager.default.fileExists(atPath: out + "/n.gz"))
        let closed = try #require(URL(string: "http://127.0.0.1:9/x.gz"))
        let refused = failure { () throws(DataError) in try Download.file(closed, to: out + "/c.gz", md5: "x", timeout: 5) }
        #expect(refused?.hasPrefix("could not download http://127.0.0.1:9/x.gz: ") == true, "\(refused ?? "no error")")
    }
}
