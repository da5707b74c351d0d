import Foundation
import KilnIR
import KilnImport

/// Loads every weight a traced graph refers to (files and seeded
/// initializers), so passes and codegen see only constant data.
///
/// Every problem is reported, each at the model line it concerns: a missing
/// or corrupt file at the `weights` declaration, a missing or misshapen tensor
/// at the layer that uses it.
public enum WeightResolver {
    /// Returns `graph` with every constant's contents loaded.
    public static func resolve(_ graph: Graph) throws(DiagnosticError) -> Graph {
        var graph = graph
        var files: [String: Result<WeightFile, WeightFileError>] = [:]
        var diagnostics: [Diagnostic] = []
        var reportedFiles = Set<String>()
        let consumers = graph.consumers()

        for (id, source) in graph.constants.sorted(by: { $0.key < $1.key }) {
            let type = graph.type(of: id)
            let layer = consumers[id]?.first.map { graph.nodes[$0] }
            let layerLocation = layer?.location
            switch source {
            case .data:
                continue
            case .initializer(let initializer):
                graph.constants[id] = .data(initializer.generate(shape: type.shape))
            case .file(let reference):
                let file: WeightFile
                switch files[reference.path] ?? load(reference) {
                case .success(let loaded):
                    files[reference.path] = .success(loaded)
                    file = loaded
                case .failure(let error):
                    files[reference.path] = .failure(error)
                    if reportedFiles.insert(reference.path).inserted {
                        diagnostics.append(.error(error.message, at: reference.location))
                    }
                    continue
                }
                // Keys are `LAYER.weight` / `LAYER.bias`; the consumer may be a helper node such as a bias add.
                let layerName = reference.key.split(separator: ".").dropLast().joined(separator: ".")
                let data: TensorData
                do {
                    data = try file.tensor(reference.key)
                } catch {
                    diagnostics.append(.error("layer '\(layerName)': \(error)", at: layerLocation))
                    continue
                }
                guard data.shape == type.shape else {
                    diagnostics.append(
                        .error(
                            "layer '\(layerName)': weight '\(reference.key)' in \(reference.path) has shape \(data.shape) but the layer needs \(type.shape)\(layoutHint(reference.key, layer: layer))",
                            at: layerLocation))
                    continue
                }
                switch (type.dtype, data.dtype) {
                case (.float32, .float32), (.int32, .int32):
                    graph.constants[id] = .data(data)
                case (.int8, .int8) where type.quantization != nil:
                    // Parameters stated in the model's source (a functional constant).
                    graph.constants[id] = .data(data)
                case (.float32, .float16):
                    graph.constants[id] = .data(TensorData(data.floats(), shape: data.shape))
                case (.int8, .int8) where reference.scaleKey != nil,
                    (.float32, .int8) where reference.scaleKey.map(file.keys.contains) == true:
                    do {
                        let quantization = try scales(for: reference, file: file, shape: data.shape)
                        graph[id].type = TensorType(.int8, data.shape, quantization: quantization)
                        graph.constants[id] = .data(data)
                    } catch {
                        diagnostics.append(.error("layer '\(layerName)': \(error)", at: layerLocation))
                    }
                case (.float32, _):
                    diagnostics.append(
                        .error(
                            "layer '\(layerName)': weight '\(reference.key)' in \(reference.path) is \(data.dtype); float weights (f32 or f16) are needed, and Kiln quantizes them itself",
                            at: layerLocation))
                default:
                    diagnostics.append(
                        .error(
                            "layer '\(layerName)': weight '\(reference.key)' in \(reference.path) is \(data.dtype) but this int8 layer needs \(type.dtype)",
                            at: layerLocation))
                }
            }
        }
        if !diagnostics.isEmpty { throw DiagnosticError(diagnostics) }
        return graph
    }

    /// The quantization of an int8 weight, read from its `_scale` tensor: one
    /// scale, or one per channel along the reference's axis; zero points are 0.
    private static func scales(for reference: WeightReference, file: WeightFile, shape: Shape) throws -> QuantizationParameters {
        guard let key = reference.scaleKey else { throw CompilerError("int8 weight '\(reference.key)' has no scales") }
        let scales = try file.tensor(key)
        guard scales.dtype == .float32 else { throw CompilerError("'\(key)' must hold f32 scales, got \(scales.dtype)") }
        let values = scales.floats()
        let axis = reference.scaleAxis ?? 0
        if values.count == 1 { return .perTensor(scale: values[0], zeroPoint: 0) }
        guard axis < shape.rank, values.count == shape[axis] else {
            throw CompilerError(
                "'\(key)' holds \(values.count) scales; '\(reference.key)' \(shape) needs 1 or \(axis < shape.rank ? shape[axis] : 0) (one per channel along axis \(axis))")
        }
        return .symmetric(scales: values, axis: axis)
    }

    private static func load(_ reference: WeightReference) -> Result<WeightFile, WeightFileError> {
        do {
            return .success(try WeightFile(contentsOf: URL(fileURLWithPath: reference.path), format: reference.format))
        } catch let error as WeightFileError {
            return .failure(error)
        } catch {
            return .failure(WeightFileError(message: "\(reference.path): \(error)"))
        }
    }

    /// Reminds the user of Kiln's filter layouts when a weight's shape is off.
    private static func layoutHint(_ key: String, layer: Node?) -> String {
        guard key.hasSuffix(".weight"), let op = layer?.op else { return "" }
        switch op {
        case .fullyConnected: return " (Dense weights are [units, inputs])"
        case .conv2D: return " (Conv2D weights are [filters, kernelHeight, kernelWidth, inputChannels])"
        default: return ""
        }
    }
}
