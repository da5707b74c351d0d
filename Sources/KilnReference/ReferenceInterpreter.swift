import Foundation
import KilnIR

/// Runs a graph with plain, obviously-correct loops: the oracle every compiled
/// kernel is checked against.
///
/// Speed is not a goal; each op is written the way its definition reads.
///
/// ```swift
/// let outputs = try ReferenceInterpreter(graph).run([input])
/// ```
public struct ReferenceInterpreter: Sendable {
    /// The graph being interpreted.
    public let graph: Graph

    /// Prepares to interpret `graph`, whose constants must all hold data.
    public init(_ graph: Graph) throws(ReferenceError) {
        for (id, source) in graph.constants {
            guard case .data = source else {
                throw ReferenceError("constant '\(graph[id].name)' has not been loaded; resolve weights before interpreting")
            }
        }
        self.graph = graph
    }

    /// Runs the graph on `inputs`, given in the graph's input order.
    public func run(_ inputs: [TensorData]) throws(ReferenceError) -> [TensorData] {
        let environment = try values(inputs)
        var outputs: [TensorData] = []
        for id in graph.outputs {
            guard let data = environment[id] else { throw ReferenceError("output \(id) is never computed") }
            outputs.append(data)
        }
        return outputs
    }

    /// Runs the graph on `inputs` and returns every value it computes or reads: inputs,
    /// constants and each node's result (what calibration observes).
    public func values(_ inputs: [TensorData]) throws(ReferenceError) -> [ValueID: TensorData] {
        guard inputs.count == graph.inputs.count else {
            throw ReferenceError("the graph takes \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var environment: [ValueID: TensorData] = [:]
        for (id, data) in zip(graph.inputs, inputs) {
            let type = graph.type(of: id)
            guard data.dtype == type.dtype, data.shape == type.shape else {
                throw ReferenceError("input '\(graph[id].name)' is \(type), got \(data.dtype)\(data.shape)")
            }
            environment[id] = data
        }
        for (id, source) in graph.constants {
            if case .data(let data) = source { environment[id] = data }
        }
        for node in graph.nodes {
            var operands: [TensorData] = []
            for input in node.inputs {
                guard let operand = environment[input] else {
                    throw ReferenceError("layer '\(node.name)' reads \(input) before it is computed")
                }
                operands.append(operand)
            }
            environment[node.outputs[0]] = try Self.evaluate(
                node.op, operands: operands, operandTypes: node.inputs.map { graph.type(of: $0) },
                resultType: graph.type(of: node.outputs[0]))
        }
        return environment
    }

    /// Evaluates one op: on real numbers when its result is float32, with
    /// Kiln's integer arithmetic (``QuantizedArithmetic``) when it is int8.
    public static func evaluate(_ op: Op, operands: [TensorData], operandTypes: [TensorType], resultType: TensorType)
        throws(ReferenceError) -> TensorData
    {
        if case .cast(.int32) = op {
            return TensorData(int32: operands[0].floats().map(Kernels.truncatedInt32), shape: resultType.shape)
        }
        if case .argExtremum(let extremum, let axis, _) = op {
            let x = Tensor(operands[0], quantization: operandTypes[0].quantization)
            let positions = Kernels.argExtremum(
                x.values, shape: x.shape, axis: axis, isBetter: extremum == .maximum ? { $0 > $1 } : { $0 < $1 },
                isNaN: \.isNaN)
            return TensorData(int32: positions, shape: resultType.shape)
        }
        if resultType.dtype == .int8 || resultType.dtype == .int32 {
            return try IntegerKernels.evaluate(op, operands, operandTypes, resultType)
        }
        let result =
            Kernels.weightOnlyInt8Layer(op, operands, operandTypes, resultShape: resultType.shape)
            ?? evaluate(
                op, zip(operands, operandTypes).map { Tensor($0, quantization: $1.quantization) },
                resultShape: resultType.shape)
        return TensorData(result.values, shape: result.shape)
    }

    static func evaluate(_ op: Op, _ operands: [Tensor], resultShape: Shape) -> Tensor {
        switch op {
        case .fullyConnected(let activation):
            return Kernels.fullyConnected(operands, activation: activation, resultShape: resultShape)
        case .conv2D(let attributes):
            return Kernels.conv2D(operands, attributes, resultShape: resultShape)
        case .depthwiseConv2D(let attributes):
            return Kernels.depthwiseConv2D(operands, attributes, resultShape: resultShape)
        case .maxPool2D(let attributes):
            return Kernels.pool(operands[0], attributes, resultShape: resultShape, average: false)
        case .averagePool2D(let attributes):
            return Kernels.pool(operands[0], attributes, resultShape: resultShape, average: true)
        case .reshape(let shape):
            return Tensor(shape: shape, values: operands[0].values)
        case .activation(let function):
            return Tensor(shape: operands[0].shape, values: operands[0].values.map { Kernels.apply(function, $0) })
        case .softmax:
            return Kernels.softmax(operands[0])
        case .add(let activation):
            return Kernels.elementwise(operands[0], operands[1], resultShape: resultShape, activation: activation, +)
        case .multiply(let activation):
            return Kernels.elementwise(operands[0], operands[1], resultShape: resultShape, activation: activation, *)
        case .subtract(let activation):
            return Kernels.elementwise(operands[0], operands[1], resultShape: resultShape, activation: activation, -)
        case .binary(let function, let activation):
            return Kernels.elementwise(operands[0], operands[1], resultShape: resultShape, activation: activation) {
                Kernels.apply(function, $0, $1)
            }
        case .batchMatMul(let adjointA, let adjointB):
            let (a, b) = (operands[0], operands[1])
            return Tensor(
                shape: resultShape,
                values: Kernels.batchMatMulSums(
                    a.values, a.shape, b.values, b.shape, adjointA: adjointA, adjointB: adjointB, resultShape: resultShape))
        case .transpose(let permutation):
            return Tensor(
                shape: resultShape,
                values: Kernels.transpose(operands[0].values, shape: operands[0].shape, permutation: permutation))
        case .concatenation(let axis, let activation):
            let joined = Kernels.concatenate(operands, axis: axis, resultShape: resultShape)
            return Tensor(shape: resultShape, values: joined.values.map { Kernels.apply(activation, $0) })
        case .pad(let paddings):
            return Kernels.pad(operands[0], paddings, value: 0, resultShape: resultShape)
        case .slice(let begin, _):
            return Tensor(
                shape: resultShape,
                values: Kernels.slice(operands[0].values, shape: operands[0].shape, begin: begin, resultShape: resultShape))
        case .mean(let axes, _):
            return Kernels.mean(operands[0], axes: axes, resultShape: resultShape)
        case .reduce(let function, let axes, _):
            return Kernels.reduce(operands[0], function, axes: axes, resultShape: resultShape)
        case .resize(let attributes):
            return Tensor(
                shape: resultShape,
                values: Kernels.resize(operands[0].values, shape: operands[0].shape, attributes, resultShape: resultShape))
        case .gather(let axis):
            return Tensor(
                shape: resultShape,
                values: Kernels.gather(
                    operands[0].values, shape: operands[0].shape, indices: operands[1].values.map(Kernels.index), axis: axis,
                    fill: 0))
        case .argExtremum:
            // Evaluated on integers above.
            return Tensor(shape: resultShape, values: [])
        case .quantize, .dequantize, .cast:
            // Operands arrive dequantized, so a float result is the value itself.
            return Tensor(shape: resultShape, values: operands[0].values)
        case .dynamicRangeQuantize(let scope):
            return Kernels.dynamicRangeQuantize(operands[0], scope)
        }
    }
}

/// Why the reference interpreter cannot run a graph.
public struct ReferenceError: LocalizedError, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }

    /// The message, for `localizedDescription`.
    public var errorDescription: String? { description }
}

/// A dense float tensor: the interpreter's working form of every value.
struct Tensor: Sendable {
    var shape: Shape
    var values: [Float]

    init(shape: Shape, values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// Converts stored data to real values, dequantizing integers that carry quantization parameters.
    init(_ data: TensorData, quantization: QuantizationParameters? = nil) {
        shape = data.shape
        let raw = data.floats()
        guard let quantization, data.dtype == .int8 || data.dtype == .int32 else {
            values = raw
            return
        }
        guard let axis = quantization.axis else {
            let (scale, zero) = (quantization.scales[0], Float(quantization.zeroPoints[0]))
            values = raw.map { scale * ($0 - zero) }
            return
        }
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let channels = shape[axis]
        values = raw.enumerated().map { index, value in
            let channel = (index / inner) % channels
            return quantization.scales[channel] * (value - Float(quantization.zeroPoints[channel]))
        }
    }
}
