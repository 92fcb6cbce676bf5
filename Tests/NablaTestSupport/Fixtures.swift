import Foundation

/// Writes an IDX file of unsigned bytes: magic 00 00 08 rank, big-endian dims, data.
public func idx(_ dims: [Int], _ data: [UInt8], magic: [UInt8]? = nil) -> Data {
    var bytes: [UInt8] = magic ?? [0, 0, 8, UInt8(dims.count)]
    for d in dims { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
    return Data(bytes + data)
}

/// A folder with the four MNIST files of a tiny synthetic set: 4x4 images where class k
/// lights pixel k (and a dim pixel 15), so a linear classifier can reach 100%.
public func syntheticMNIST(train n: Int, test m: Int, gzip: Bool = false) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-idx-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    func images(_ count: Int) -> ([UInt8], [UInt8]) {
        var px: [UInt8] = [], labels: [UInt8] = []
        for i in 0..<count {
            let k = i % 10
            var image = [UInt8](repeating: 0, count: 16)
            image[k] = 255
            image[15] = UInt8(20 + (i * 37) % 100)
            px += image
            labels.append(UInt8(k))
        }
        return (px, labels)
    }
    let (trainX, trainY) = images(n), (testX, testY) = images(m)
    let files: [(String, Data)] = [
        ("train-images-idx3-ubyte", idx([n, 4, 4], trainX)), ("train-labels-idx1-ubyte", idx([n], trainY)),
        ("t10k-images-idx3-ubyte", idx([m, 4, 4], testX)), ("t10k-labels-idx1-ubyte", idx([m], testY)),
    ]
    for (name, data) in files {
        let path = dir + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        if gzip {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = [path]
            try p.run()
            p.waitUntilExit()
        }
    }
    return dir
}

