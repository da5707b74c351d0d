import KilnIR
import KilnReference

/// What calibration samples feed one fully-connected or convolution layer, per reduction
/// position `k` (an input feature, or one channel of one window tap): the sums and sums of
/// squares, and where the reduction is small enough, the Gram matrix of the rows the layer
/// multiplies, extended by a constant 1 for the bias. Activation-aware pruning ranks weights by
/// the root mean squares and repairs the kept ones from the Gram matrix.
struct LayerInputStatistics: Sendable {
    /// Elements of one row: the layer's reduction.
    let depth: Int
    /// Rows observed (output positions × samples, subsampled).
    private(set) var count = 0
    /// `Σ x_k` per position.
    private(set) var sums: [Double]
    /// `Σ x_k²` per position.
    private(set) var squares: [Double]
    /// `Σ x_i x_j` over rows `[x, 1]`, `(depth + 1)²` row-major; `nil` past ``gramDepthLimit``.
    private(set) var gram: [Double]?

    /// The largest reduction whose Gram matrix is kept (8 MB of doubles).
    static let gramDepthLimit = 1024
    /// Rows observed per layer over all samples, at most: output positions are subsampled evenly.
    static let rowLimit = 4096

    init(depth: Int) {
        self.depth = depth
        sums = Array(repeating: 0, count: depth)
        squares = Array(repeating: 0, count: depth)
        gram = depth <= Self.gramDepthLimit ? Array(repeating: 0, count: (depth + 1) * (depth + 1)) : nil
    }

    /// Each position's root mean square: how strongly it drives the layer.
    var rootMeanSquares: [Double] { squares.map { ($0 / Double(max(count, 1))).squareRoot() } }

    /// Each position's mean.
    var means: [Double] { sums.map { $0 / Double(max(count, 1)) } }

    /// The Gram matrix entry for positions `i` and `j` (`depth` is the constant 1).
    func gram(_ i: Int, _ j: Int) -> Double { gram?[min(i, j) * (depth + 1) + max(i, j)] ?? 0 }

    /// Adds one row of the layer's input.
    mutating func add(_ row: [Float]) {
        count += 1
        for k in 0..<depth {
            let x = Double(row[k])
            sums[k] += x
            squares[k] += x * x
        }
        guard gram != nil else { return }
        let width = depth + 1
        let extended = row.map(Double.init) + [1]
        // The upper triangle only; ReLU inputs are mostly zero, whose rows add nothing.
        gram?.withUnsafeMutableBufferPointer { matrix in
            for i in 0..<width where extended[i] != 0 {
                let xi = extended[i]
                let base = i * width
                for j in i..<width { matrix[base + j] += xi * extended[j] }
            }
        }
    }

    /// The statistics of each layer (node index) over `samples`, from the reference interpreter.
    ///
    /// - Throws: ``DiagnosticError`` when a sample does not fit the graph or the interpreter fails.
    static func collect(
        for layers: [Int], in graph: Graph, samples: [[TensorData]]
    ) throws(DiagnosticError) -> [Int: LayerInputStatistics] {
        guard !samples.isEmpty else { throw DiagnosticError("calibration needs at least one sample, got none") }
        let interpreter: ReferenceInterpreter
        do { interpreter = try ReferenceInterpreter(graph) } catch { throw DiagnosticError(error.message) }
        var result: [Int: LayerInputStatistics] = [:]
        for (number, sample) in samples.enumerated() {
            let values: [ValueID: TensorData]
            do { values = try interpreter.values(sample) } catch {
                throw DiagnosticError("calibration sample \(number): \(error.message)")
            }
            for layer in layers {
                let node = graph.nodes[layer]
                guard let input = values[node.inputs[0]] ?? graph.constantData(node.inputs[0]),
                    input.dtype == .float32
                else { continue }
                let filter = graph.type(of: node.inputs[1]).shape
                let depth = filter.elementCount / max(filter[0], 1)
                // Convolutions whose filter does not span the input's channels (grouped) are not observed.
                if case .conv2D = node.op, filter.rank != 4 || input.shape.rank != 4 || filter[3] != input.shape[3] { continue }
                var statistics = result[layer] ?? LayerInputStatistics(depth: depth)
                let rows = Rows(node: node, input: input, graph: graph)
                let perSample = max(1, rowLimit / samples.count)
                let step = max(1, (rows.count + perSample - 1) / perSample)
                for row in stride(from: 0, to: rows.count, by: step) { statistics.add(rows.row(row)) }
                result[layer] = statistics
            }
        }
        return result
    }

    /// The rows a layer multiplies by its filter: input rows of a fully-connected layer, window
    /// patches (OHWI order, zeros in the padding) of a convolution.
    private struct Rows {
        let input: [Float]
        let shape: Shape
        let depth: Int
        let convolution: (attributes: Conv2DAttributes, kernel: (Int, Int), output: Shape)?

        init(node: Node, input: TensorData, graph: Graph) {
            self.input = input.floats()
            shape = input.shape
            let filter = graph.type(of: node.inputs[1]).shape
            depth = filter.elementCount / max(filter[0], 1)
            if case .conv2D(let attributes) = node.op {
                convolution = (attributes, (filter[1], filter[2]), graph.type(of: node.outputs[0]).shape)
            } else {
                convolution = nil
            }
        }

        var count: Int {
            guard let convolution else { return input.count / max(depth, 1) }
            let output = convolution.output
            return output[0] * output[1] * output[2]
        }

        func row(_ index: Int) -> [Float] {
            guard let (attributes, kernel, output) = convolution else {
                return Array(input[(index * depth)..<((index + 1) * depth)])
            }
            let (rows, columns) = attributes.geometry(input: shape, kernel: kernel)
            let (height, width, channels) = (shape[1], shape[2], shape[3])
            let batch = index / (output[1] * output[2])
            let y = index / output[2] % output[1]
            let x = index % output[2]
            var patch = [Float](repeating: 0, count: depth)
            for ky in 0..<kernel.0 {
                let iy = y * attributes.strides[0] - rows.padBefore + ky * attributes.dilations[0]
                guard (0..<height).contains(iy) else { continue }
                for kx in 0..<kernel.1 {
                    let ix = x * attributes.strides[1] - columns.padBefore + kx * attributes.dilations[1]
                    guard (0..<width).contains(ix) else { continue }
                    let source = ((batch * height + iy) * width + ix) * channels
                    let target = (ky * kernel.1 + kx) * channels
                    for c in 0..<channels { patch[target + c] = input[source + c] }
                }
            }
            return patch
        }
    }
}
