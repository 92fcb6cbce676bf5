// swift-tools-version:6.0
import PackageDescription

// Tensors are generic over the element (Float, Double); cross-module optimization lets the
// modules that use them get their code specialized (the op table, in NablaGraph, is specialized
// there: the graph runs it in Double, the tape in Float).
let specialize: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
// The session is a class whose properties every statement reads and writes many times, and
// the graph and the parser run inside each statement; the release build skips the runtime's
// dynamic exclusivity checks in those modules (7% of an exam-sized script: swift_beginAccess
// and its thread-local bookkeeping). Debug builds, which run the tests, keep the checks, so
// an overlapping access still traps there.
let unchecked: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "nabla",
    products: [
        .executable(name: "nabla", targets: ["nabla"]),
        // HTTP for the MNIST download, loaded with dlopen only when a download starts: linking
        // FoundationNetworking into nabla would load libcurl and OpenSSL at every start (8 ms).
        .library(name: "NablaFetch", type: .dynamic, targets: ["NablaFetch"]),
    ],
    dependencies: [
        // The command line: subcommands, --help, --opt=value, completion scripts, did-you-mean.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: - Libraries (dependencies point down)
        .target(name: "NablaTensor", dependencies: ["CBLAS", "CNablaKernels"], swiftSettings: specialize),
        .target(name: "NablaGraph", dependencies: ["NablaTensor", "CBLAS"], swiftSettings: unchecked),
        .target(name: "NablaSyntax", swiftSettings: unchecked),
        .target(name: "NablaNN", dependencies: ["NablaTensor", "CZlib"]),
        .target(name: "NablaFetch"),
        // The session's parts, one job each: the workspace (definitions, compile, limits); the
        // teaching views; training; the self-check; and the session that dispatches commands.
        .target(name: "NablaRuntime", dependencies: ["NablaTensor", "NablaGraph", "NablaSyntax", "NablaNN"], swiftSettings: unchecked),
        .target(name: "NablaTeaching", dependencies: ["NablaRuntime", "NablaTensor", "NablaGraph", "NablaSyntax", "NablaNN"], swiftSettings: unchecked),
        .target(name: "NablaTraining", dependencies: ["NablaRuntime", "NablaTeaching", "NablaTensor", "NablaGraph", "NablaSyntax", "NablaNN"], swiftSettings: unchecked),
        .target(name: "NablaSelfCheck", dependencies: ["NablaRuntime", "NablaTeaching", "NablaTensor", "NablaGraph", "NablaSyntax"], swiftSettings: unchecked),
        .target(name: "NablaSession", dependencies: [
            "NablaRuntime", "NablaTeaching", "NablaTraining", "NablaSelfCheck", "NablaTensor", "NablaGraph", "NablaSyntax", "NablaNN",
        ], swiftSettings: unchecked),
        .target(name: "NablaREPL", dependencies: ["NablaSession", "CNablaEdit", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "NablaFuzz", dependencies: ["NablaSession", "NablaNN", "NablaTensor"]),

        // MARK: - C, walled off: libedit's variadic API and the SIGINT flag; sparse kernels; zlib; BLAS
        .target(name: "CNablaEdit", linkerSettings: [.linkedLibrary("edit")]),
        // Products whose left operand is mostly zeros (MNIST's pixels), one body per vector
        // width; optimized in debug builds too (the tests train on it).
        .target(name: "CNablaKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // MARK: - Executables
        .executableTarget(name: "nabla", dependencies: ["NablaREPL"]),
        .executableTarget(name: "nabla-bench", dependencies: ["NablaSession", "NablaBenchGraphs"], path: "Sources/nabla-bench"),
        .executableTarget(name: "nabla-allocations", dependencies: ["NablaBenchGraphs", "CAllocCounter"], path: "Sources/nabla-allocations"),
        .target(name: "NablaBenchGraphs", dependencies: ["NablaGraph", "NablaTensor"]),
        .target(name: "CAllocCounter"),
        // The fuzz targets (tools/fuzz.sh builds them with libFuzzer); without it, a replayer.
        .executableTarget(name: "nabla-fuzz", dependencies: ["NablaFuzz", "CFuzzerDriver"], path: "Sources/nabla-fuzz"),
        .target(name: "CFuzzerDriver"),

        // MARK: - Tests
        .target(name: "NablaTestSupport", dependencies: ["NablaTensor", "NablaGraph"], path: "Tests/NablaTestSupport"),
        .testTarget(name: "NablaTensorTests", dependencies: ["NablaTensor", "CNablaKernels", "NablaTestSupport"]),
        .testTarget(name: "NablaGraphTests", dependencies: ["NablaGraph", "NablaTestSupport"]),
        .testTarget(name: "NablaSyntaxTests", dependencies: ["NablaSyntax"]),
        .testTarget(name: "NablaNNTests", dependencies: ["NablaNN", "NablaTestSupport"]),
        .testTarget(name: "NablaSessionTests", dependencies: [
            "NablaSession", "NablaRuntime", "NablaTeaching", "NablaTraining", "NablaSelfCheck", "NablaTestSupport", "NablaFuzz",
        ]),
        .testTarget(name: "NablaCLITests", dependencies: ["nabla", "NablaTestSupport"]),
        .testTarget(name: "NablaREPLTests", dependencies: ["nabla"]),
    ]
)
