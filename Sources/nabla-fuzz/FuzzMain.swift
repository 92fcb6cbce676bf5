import Foundation
import NablaFuzz
#if NABLA_FUZZ
import CFuzzerDriver
#endif

#if NABLA_FUZZ
/// libFuzzer's entry (built by tools/fuzz.sh with -sanitize=fuzzer,address -DNABLA_FUZZ):
/// $NABLA_FUZZ_TARGET picks the target: `line`, `data`, `npz` or `stdin`.
nonisolated(unsafe) let target = ProcessInfo.processInfo.environment["NABLA_FUZZ_TARGET"] ?? "line"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(target, bytes)
    return 0
}

/// SwiftPM names an executable's entry point after its module and aliases `main` to it;
/// here it hands over to libFuzzer's driver.
@_cdecl("nabla_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    FuzzTargets.lowerLimits()
    var count = argc
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzOne)
}
#else
/// Without libFuzzer: `nabla-fuzz line|data FILE...` runs files through a target (to replay a
/// crash the fuzzer saved, or the corpus).
@main
struct Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let target = args.first, FuzzTargets.names.contains(target), args.count > 1 else {
            FileHandle.standardError.write(Data("usage: nabla-fuzz line|data|npz|stdin FILE...\n".utf8))
            exit(2)
        }
        for path in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(1)
            }
            FuzzTargets.run(target, Array(data))
        }
        print("\(args.count - 1) inputs ran through \(target) without a crash")
    }
}
#endif
