import CBLAS
import Dispatch
import Foundation

/// Work split over the machine's cores, for the loops BLAS does not run: im2col, col2im and
/// pooling over images. Each part writes its own range of the output, so no two threads
/// touch the same element.
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
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: n) { part in
                let lo = count * part / n, hi = count * (part + 1) / n
                if lo < hi { box.value(part, lo..<hi) }
            }
        }
    }
}

/// OpenBLAS computes on the calling thread only. nabla splits its work over the cores itself
/// (`Parallel`: a big matrix product in parts, a batch of images in parts); OpenBLAS's own
/// workers, left on, spin in `sched_yield` for a while after each product and took a core
/// from nabla's threads (a third of the convnet's time was the kernel's scheduler).
public enum BLAS {
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Called before every BLAS call; sets OpenBLAS to one thread the first time.
    @inline(__always) public static func oneThreadEach() { _ = configured }
}

/// A value handed to the threads of `concurrentPerform`; each thread writes a disjoint range.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The number of cores this process may run on: Foundation reads the CPU affinity (and on
/// Linux the cgroup quota), so a container pinned to 2 cores of a big host gets 2.
private func activeProcessorCount() -> Int {
    ProcessInfo.processInfo.activeProcessorCount
}

