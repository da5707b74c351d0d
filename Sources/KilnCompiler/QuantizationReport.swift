import Foundation
import KilnIR
import KilnReference

/// How quantization changed each layer of a model, measured against the float32 graph
/// it came from on sample inputs: what `kiln inspect --quantization` prints.
///
/// A layer's signal-to-quantization-noise ratio is `10·log₁₀(Σ f² / Σ (f − q)²)` over every
/// finite element of its result on every sample, `f` from the float32 graph and `q` from the
/// quantized one (dequantized when int8); the model's figures compare its outputs the same way.
public struct QuantizationReport: Sendable {
    /// One layer of the quantized graph.
    public struct Layer: Sendable {
        /// The layer name, as in the float32 graph.
        public var name: String
        /// The op's kind, e.g. `conv2d`.
        public var kind: String
        /// How the layer computes.
        public var precision: Precision
        /// The int8 parameters of the layer's result; `nil` when it is not int8.
        public var output: QuantizationParameters?
        /// The smallest and largest scale of the layer's int8 weights, if it has any.
        public var weightScales: ClosedRange<Float>?
        /// The layer result's SQNR in decibels (infinite when exact); `nil` without samples.
        public var sqnr: Double?
    }

    /// How a layer computes after quantization.
    public enum Precision: String, Sendable {
        /// Integer inputs, weights and result.
        case int8
        /// Float32 throughout: no int8 kernel, or kept float by mixed precision.
        case float32
        /// Int8 weights with float32 activations (dynamic range, weight-only int8).
        case int8Weights = "int8 weights"
        /// Half-precision weights computed in float32.
        case float16Weights = "float16 weights"
    }

    /// Per-layer figures, in the float32 graph's order; conversions (quantize, dequantize, a
    /// hybrid layer's input rounding) are left out.
    public var layers: [Layer]
    /// How ``table`` shows layer names.
    public var names = LayerNameStyle.short
    /// Samples the errors were measured on.
    public var sampleCount: Int
    /// Samples that were available; more than `sampleCount` when the measurement was capped.
    public var availableSampleCount: Int
    /// The SQNR of the model's outputs in decibels, `nil` without samples.
    public var outputSQNR: Double?
    /// The outputs' relative RMS error `√(Σ (f − q)² / Σ f²)` (the mixed-precision budget's measure).
    public var outputError: Double?
    /// The fraction of rows of class scores (outputs with more than one element along their last
    /// axis) whose largest entry is the same in both graphs; `nil` when there are none.
    public var topOneAgreement: Double?

    /// Samples the comparison runs at most: the reference interpreter runs both graphs on each.
    public static let maximumSampleCount = 100

    /// Compares `quantized` with `float`, the graph it was quantized from, on up to
    /// ``maximumSampleCount`` of `samples` (each one tensor per input); layers are matched by name.
    public init(float: Graph, quantized: Graph, samples: [[TensorData]]) throws(DiagnosticError) {
        var byName: [String: [Node]] = [:]
        for node in quantized.nodes where !Self.isConversion(node.op) { byName[node.name, default: []].append(node) }
        let floatNames = Dictionary(grouping: float.nodes, by: \.name)
        // A float layer's counterpart result: the last node of its name (an int8 layer's separate
        // lookup activation follows it under the same name), when the name is unambiguous.
        var counterparts: [(float: ValueID, quantized: ValueID)?] = []
        layers = float.nodes.filter { !Self.isConversion($0.op) }.map { node in
            let matches = byName[node.name] ?? []
            guard let first = matches.first, let last = matches.last, floatNames[node.name]?.count == 1 else {
                counterparts.append(nil)
                return Layer(name: node.name, kind: node.op.kindName, precision: .float32)
            }
            counterparts.append((node.outputs[0], last.outputs[0]))
            let result = quantized.type(of: last.outputs[0])
            let weights = first.inputs.count > 1 && quantized.isConstant(first.inputs[1]) ? quantized.type(of: first.inputs[1]) : nil
            return Layer(
                name: node.name, kind: node.op.kindName,
                precision: Self.precision(result: quantized.type(of: first.outputs[0]).dtype, weights: weights?.dtype),
                output: result.dtype == .int8 ? result.quantization : nil,
                weightScales: weights?.quantization.flatMap { parameters in
                    parameters.scales.min().flatMap { low in parameters.scales.max().map { low...$0 } }
                })
        }
        let measured = Array(samples.prefix(Self.maximumSampleCount))
        sampleCount = measured.count
        availableSampleCount = samples.count
        guard !measured.isEmpty else { return }

        var layerErrors = [NoiseSum](repeating: NoiseSum(), count: layers.count)
        var outputErrors = NoiseSum()
        var rows = 0
        var agreeing = 0
        do {
            let floatInterpreter = try ReferenceInterpreter(float)
            let quantizedInterpreter = try ReferenceInterpreter(quantized)
            for sample in measured {
                let expected = try floatInterpreter.values(sample)
                let actual = try quantizedInterpreter.values(sample)
                for (index, pair) in counterparts.enumerated() {
                    guard let pair, let f = expected[pair.float], let q = actual[pair.quantized] else { continue }
                    layerErrors[index].add(f.floats(), Self.real(q, quantized.type(of: pair.quantized)))
                }
                for (floatOutput, quantizedOutput) in zip(float.outputs, quantized.outputs) {
                    guard let f = expected[floatOutput], let q = actual[quantizedOutput] else { continue }
                    let fValues = f.floats()
                    let qValues = Self.real(q, quantized.type(of: quantizedOutput))
                    outputErrors.add(fValues, qValues)
                    let classes = f.shape.dimensions.last ?? 1
                    guard classes > 1, fValues.count == qValues.count else { continue }
                    for row in stride(from: 0, to: fValues.count, by: classes) {
                        rows += 1
                        if Self.argmax(fValues[row..<(row + classes)]) == Self.argmax(qValues[row..<(row + classes)]) {
                            agreeing += 1
                        }
                    }
                }
            }
        } catch {
            throw DiagnosticError("quantization report: \(error.message)")
        }
        for index in layers.indices where counterparts[index] != nil { layers[index].sqnr = layerErrors[index].sqnr }
        outputSQNR = outputErrors.sqnr
        outputError = outputErrors.relativeError
        topOneAgreement = rows > 0 ? Double(agreeing) / Double(rows) : nil
    }

    /// The table of layers followed by the model's figures.
    public var table: String {
        let header = ["layer", "op", "precision", "scale", "zero point", "weight scales", "SQNR dB"]
        let rows = layers.map { layer in
            [
                TextTable.shortened(layer.name, names), layer.kind, layer.precision.rawValue,
                layer.output.map { Self.format($0.scales[0]) } ?? "",
                layer.output.map { String($0.zeroPoints[0]) } ?? "",
                layer.weightScales.map {
                    $0.lowerBound == $0.upperBound ? Self.format($0.lowerBound) : "\(Self.format($0.lowerBound))…\(Self.format($0.upperBound))"
                } ?? "",
                layer.sqnr.map(Self.decibels) ?? "",
            ]
        }
        var lines = TextTable.lines(header: header, rows: rows)
        lines.append("")
        let int8 = layers.filter { $0.precision == .int8 }.count
        lines.append("layers:       \(int8) of \(layers.count) int8")
        if sampleCount == 0 {
            lines.append("errors:       not measured; give samples (--calibration FILE.npy) to compare with float32")
        } else {
            let capped = availableSampleCount > sampleCount ? " (the first \(sampleCount) of \(availableSampleCount))" : ""
            lines.append("samples:      \(sampleCount)\(capped)")
            if let outputSQNR { lines.append("output SQNR:  \(Self.decibels(outputSQNR)) dB") }
            if let outputError { lines.append("output error: \(String(format: "%.4f", outputError)) (relative RMS)") }
            if let topOneAgreement {
                lines.append("top-1 agreement with float32: \(String(format: "%.2f", topOneAgreement * 100)) %")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Whether `op` only converts between representations (and so has no float32 counterpart).
    static func isConversion(_ op: Op) -> Bool {
        switch op {
        case .quantize, .dequantize, .dynamicRangeQuantize: true
        default: false
        }
    }

    /// How a layer with this result and constant-weight element type computes.
    static func precision(result: DType, weights: DType?) -> Precision {
        switch (result, weights) {
        case (.int8, _): .int8
        case (.float32, .int8?): .int8Weights
        case (.float32, .float16?): .float16Weights
        default: .float32
        }
    }

    /// The real values of a result: dequantized when it is int8.
    static func real(_ data: TensorData, _ type: TensorType) -> [Float] {
        guard data.dtype == .int8, let parameters = type.quantization else { return data.floats() }
        return parameters.dequantize(data)
    }

    /// The position of the largest value; NaN never wins.
    static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] || values[best].isNaN { best = index }
        return best - values.startIndex
    }

    static func format(_ value: Float) -> String { String(format: "%.4g", value) }

    static func decibels(_ value: Double) -> String { value.isInfinite ? "exact" : String(format: "%.1f", value) }
}

/// Sums of squared signal and squared error over the finite pairs of values.
private struct NoiseSum {
    var signal = 0.0
    var noise = 0.0

    mutating func add(_ expected: [Float], _ actual: [Float]) {
        for (f, q) in zip(expected, actual) where f.isFinite && q.isFinite {
            signal += Double(f) * Double(f)
            noise += Double(f - q) * Double(f - q)
        }
    }

    /// `10·log₁₀(signal / noise)`, infinite when there is no noise.
    var sqnr: Double { noise == 0 ? .infinity : 10 * log10(max(signal, .leastNonzeroMagnitude) / noise) }

    /// `√(noise / signal)`, or the RMS error alone for an all-zero signal.
    var relativeError: Double { signal > 0 ? (noise / signal).squareRoot() : noise.squareRoot() }
}
