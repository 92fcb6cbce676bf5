import NablaBenchGraphs
import NablaGraph
import NablaSession
import NablaTensor

// Times a 10,000-node scalar graph: building it from source text, a forward pass
// (a changed input pushed through every node) and a backward pass.
// `bench/graph.sh` runs this beside micrograd and prints the figures side by side.

let args = CommandLine.arguments
let layers = args.count > 1 ? Int(args[1]) ?? 3334 : 3334   // 3 nodes per layer: w*x, +b, relu
let repeats = args.count > 2 ? Int(args[2]) ?? 20 : 20
let examRuns = args.count > 3 ? Int(args[3]) ?? 200 : 200   // more runs to profile the exam script

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func time(_ body: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let d = try clock.measure(body)
    return Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
}

// 1. Through the language: parse and compile a script of `layers` definitions, then :backward.
var script = "param x0 = 0.5\n"
for i in 1...layers { script += "x\(i) = relu(1.0*x\(i - 1) + 0.1)\n" }
script += ":backward x\(layers)\n"
let silent = SessionOutput(out: { _ in }, err: { print($0) })
var parseAndBuild: [Double] = []
for _ in 0..<3 {
    let session = Session(output: silent, seed: 1)
    parseAndBuild.append(time { session.runScript(script) })
}

// 2. An exam-sized graph: the course's neuron typed as a script (parse, build, backward, one gradient).
let neuron = """
    x1 = 2
    x2 = 1
    y = 1
    param w1 = -1
    param w2 = 1
    z = w1*x1 + w2*x2
    p = sigmoid(y*z)
    L = -log(p)
    :backward L
    :grad w1
    """
var exam: [Double] = []
for _ in 0..<examRuns {
    let session = Session(output: silent, seed: 1)
    exam.append(time { session.runScript(neuron) })
}

// 3. The graph alone: forward (recompute every node after the input changes) and backward.
var scalarChain = try ReluChain(layers: layers, width: 0)
let nodes = 3 * layers
var forward: [Double] = []
var backward: [Double] = []
var gradient = 0.0
for r in 0..<repeats {
    forward.append(try time { try scalarChain.graph.setValue(scalarChain.x, Tensor(0.5 + Double(r) * 1e-3)) })
    backward.append(try time { gradient = try scalarChain.graph.backward(from: scalarChain.output)[scalarChain.x]?.scalar ?? .nan })
}
// 4. Tiny tensors: the same chain on 3-vectors (held inline: no heap allocation per node).
var tiny = try ReluChain(layers: layers, width: 3)
var tinyTimes: [Double] = []
for r in 0..<repeats {
    tinyTimes.append(try time {
        try tiny.graph.setValue(tiny.x, Tensor(vector: [0.5 + Double(r) * 1e-3, 0.25, 0]))
        _ = try tiny.graph.backward(from: tiny.output)
    })
}

print("nodes \(nodes)")
print("nabla parse+build+backward (script of \(layers) definitions) µs \(Int(median(parseAndBuild)))")
print("nabla exam-sized neuron script (8 definitions, :backward, :grad) µs \((median(exam) * 10).rounded() / 10)")
print("nabla forward µs \(Int(median(forward)))")
print("nabla backward µs \(Int(median(backward)))")
print("nabla forward+backward µs \(Int(median(forward) + median(backward)))")
print("nabla 3-vector chain (same layers) forward+backward µs \(Int(median(tinyTimes)))")
print("check dout/dx \(gradient)")
