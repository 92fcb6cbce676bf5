import CBLAS
import CNablaKernels
import Foundation
import Synchronization

/// Work split over the machine's cores: a convolution's images (im2col, the product, col2im),
/// pooling's planes, the rows of a product that skips zeros, and with `BLAS.use(.nabla)` a big
/// product's rows or columns. Each part writes its own range of the output, so no two threads
/// touch the same element. The parts run on nabla's own pool (CNablaKernels/parallel.c), whose
/// threads wait spinning for a millisecond between loops: a training step runs a dozen loops,
/// and handing each to Dispatch's threads cost a wake-up apiece (an MLP epoch took 0.43-0.46 s
/// that way against 0.365 s on the pool, measured interleaved).
public enum Parallel {
    /// The parts a loop is split into: one per core (2 on the machines nabla is measured on).
    public static let parts = Swift.max(1, Swift.min(activeProcessorCount(), 8))

    /// Calls `body` on consecutive ranges that cover 0..<count, in parallel when the work
    /// (`count · cost` elementary operations) is at least `minimum`; on one thread otherwise.
    public static func forEachRange(_ count: Int, cost: Int = 1, minimum: Int = 32_768, _ body: (Range<Int>) -> Void) {
        forEachPart(count, cost: cost, minimum: minimum) { _, range in body(range) }
    }

    /// The same, with the index of the part (0..<parts) each range is: a part may keep its own
    /// accumulator, which the caller adds up afterwards.
    public static func forEachPart(_ count: Int, cost: Int = 1, minimum: Int = 32_768, _ body: (Int, Range<Int>) -> Void) {
        let n = Swift.min(parts, count)
        guard n > 1, count * Swift.max(cost, 1) >= minimum else {
            if count > 0 { body(0, 0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var loop = Loop(count: count, parts: n, body: body)
            withUnsafeMutablePointer(to: &loop) { pointer in
                nabla_parallel(n, parts - 1, { context, part in
                    guard let loop = context?.assumingMemoryBound(to: Loop.self).pointee else { return }
                    let lo = loop.count * part / loop.parts, hi = loop.count * (part + 1) / loop.parts
                    if lo < hi { loop.body(part, lo..<hi) }
                }, pointer)
            }
        }
    }
}

/// A loop handed to nabla's thread pool (CNablaKernels' `nabla_parallel`): part p covers
/// count·p/parts ..< count·(p+1)/parts.
private struct Loop {
    let count: Int
    let parts: Int
    let body: (Int, Range<Int>) -> Void
}

/// Who spreads a matrix product over the cores. OpenBLAS's workers keep spinning in
/// `sched_yield` for a while after each product: that makes a stream of products quick (an
/// MLP's batches: a waiting worker starts at once) but takes a core from nabla's own threads
/// when other work runs between the products (a convnet's im2col and pooling: a third of its
/// time went to the kernel's scheduler). So a convolution asks for `.nabla`: OpenBLAS on the
/// calling thread only, nabla's threads splitting the images (and a big product in parts);
/// an MLP's training tape asks for `.openBLAS`. The choice stays until someone asks otherwise.
public enum BLAS {
    public enum Threads: Sendable { case openBLAS, nabla }

    private static let current = Mutex<Threads?>(nil)
    /// What `.openBLAS` gives back: `OPENBLAS_NUM_THREADS` when set, else OpenBLAS's own
    /// count capped at `Parallel.parts` (OpenBLAS counts the host's CPUs; a container's quota
    /// of 2 on a 64-core host would get 64 spinning workers).
    private static let openBLASThreads: Int32 = {
        let own = Swift.max(1, openblas_get_num_threads())
        return getenv("OPENBLAS_NUM_THREADS") != nil ? own : Swift.min(own, Int32(Parallel.parts))
    }()

    /// Makes `threads` the way products run from now on.
    public static func use(_ threads: Threads) {
        current.withLock { now in
            guard now != threads else { return }
            let own = openBLASThreads  // read before the first change
            now = threads
            openblas_set_num_threads(threads == .openBLAS ? own : 1)
        }
    }

    /// True when nabla splits a big product over the cores itself (OpenBLAS on one thread).
    static var nablaSplits: Bool { current.withLock { $0 == .nabla } }
}

/// The number of cores this process may run on: Foundation reads the CPU affinity (and on
/// Linux the cgroup quota), so a container pinned to 2 cores of a big host gets 2.
private func activeProcessorCount() -> Int {
    ProcessInfo.processInfo.activeProcessorCount
}

