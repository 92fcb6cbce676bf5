import NablaRuntime
import NablaTeaching
import Foundation
import NablaGraph
import NablaNN
import NablaSyntax
import NablaTensor

extension Session {
    // MARK: - Weights as .npz (numpy.load reads them)

    /// Writes every param (or those of `only`) to a `.npz` file, or a `.safetensors` file
    /// when the path says so, atomically: a temporary file renamed over the old one, so a
    /// crash or a full disk never leaves half a file.
    package func saveWeights(to path: String, at range: SourceRange, values: [String: [Double]] = [:], only: [String]? = nil) throws(Diagnostic) -> Int {
        var arrays: [(String, Tensor)] = []
        for name in only ?? paramNames {
            guard let leaf = paramLeaf(name) else { continue }
            var value = graph.value(leaf)
            if let v = values[name], v.count == value.count { value = Tensor(shape: value.shape, scalars: v) }
            guard value.isFinite else { throw Diagnostic(.error, "param \(name) holds NaN or infinity; not saved", at: range) }
            arrays.append((name, value))
        }
        guard !arrays.isEmpty else { throw Diagnostic(.error, "there are no params to save", at: range) }
        let bytes = Session.fileKind(path) == "safetensors" ? Safetensors.encode(arrays) : Numpy.npz(arrays)
        do { try SafeFile.write(bytes, to: path) } catch { throw Diagnostic(.error, error.message, at: range) }
        return arrays.count
    }

    /// Sets params from a `.npz` or `.safetensors` file: every array whose name is a param of
    /// the same shape. The params the file does not hold, and its arrays that are not params,
    /// are named.
    package func loadWeights(from path: String, at range: SourceRange) throws(Diagnostic) {
        // Read through a file handle: Foundation's Data(contentsOf:) leaks a 4 KB buffer on an
        // empty file (found by the data fuzzer; fuzz/regressions/data/empty). Bounded by the
        // element limit, interruptible; a device (/dev/zero) is refused before any read.
        let limit = TensorLimits.maxElements * 8 + (16 << 20)
        let data: Data
        do {
            data = try SafeFile.read(path, limit: limit, limitName: "elements=\(TensorLimits.maxElements) (8 bytes each)", isInterrupted: isInterrupted)
        } catch {
            throw Diagnostic(.error, error.message, at: range)
        }
        let arrays: [(String, Tensor)]
        do {
            arrays = Session.fileKind(path) == "safetensors"
                ? try Safetensors.decode(data, name: path) : try Numpy.readNPZ(data, name: path, isInterrupted: isInterrupted)
        } catch { throw Diagnostic(.error, error.description, at: range) }
        var updates: [(NodeID, Tensor)] = []
        var names: [String] = []
        var skipped: [String] = []
        for (name, value) in arrays {
            guard let leaf = paramLeaf(name) else {
                skipped.append(name)
                continue
            }
            let current = graph.value(leaf)
            guard value.isFinite else {
                throw Diagnostic(.error, "\(path): \(name) holds NaN or infinity; nothing is loaded", at: range)
            }
            guard current.shape == value.shape else {
                throw Diagnostic(.error, "\(path): \(name) has shape \(Shape.describe(value.shape)) but the param \(name) is \(Shape.describe(current.shape))", at: range)
            }
            updates.append((leaf, value))
            names.append(name)
        }
        guard !updates.isEmpty else {
            throw Diagnostic(.error, "\(path) holds no array named like a param (it has: \(arrays.map(\.0).joined(separator: ", ")))", at: range)
        }
        do { try graph.setValues(updates) } catch { throw Diagnostic(.error, describe(error), at: range) }
        version += 1
        lastBackward = nil
        let missing = paramNames.filter { !names.contains($0) }
        say("loaded \(names.joined(separator: ", ")) from \(path)"
            + (missing.isEmpty ? "" : "; not in the file, so unchanged: \(missing.joined(separator: ", "))")
            + (skipped.isEmpty ? "" : "; in the file but not params here: \(skipped.joined(separator: ", "))"))
    }

}
